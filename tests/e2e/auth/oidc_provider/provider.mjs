// A real OpenID Provider for the RongMail OIDC RP tests: panva/oidc-provider with its
// development interactions (login + consent forms). Usage:
//   node provider.mjs PORT REDIRECT_URI CLIENT_SECRET
// Any login name is accepted; its claims are {sub: name, email: name, email_verified: true}.
import Provider from 'oidc-provider';

const [port, redirectUri, secret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'rongmail',
    client_secret: secret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: `sub-${id}`, email: id, email_verified: !id.startsWith('unverified') };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['rongmail-test-cookie-key'] },
});
provider.on('server_error', (ctx, err) => { console.error('server_error', err); });
provider.listen(Number(port), '127.0.0.1', () => { console.log('ready'); });
