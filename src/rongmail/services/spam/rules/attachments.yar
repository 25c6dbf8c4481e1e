/*
 * RongMail shipped YARA rules for mail attachments (small, high-precision, hand-written).
 * Every rule is matched against each attachment and each file inside an archive.
 */

rule EICAR_Test_File
{
    meta:
        description = "EICAR anti-virus test file"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar in (0..128)
}

rule PE_Executable_Payload
{
    meta:
        description = "Windows PE executable (whatever its file name says)"
    condition:
        uint16(0) == 0x5A4D and uint32(0x3C) < filesize and uint32(uint32(0x3C)) == 0x00004550
}

rule Windows_Shortcut_LNK
{
    meta:
        description = "Windows shortcut (.lnk) file, a common malware loader"
    condition:
        uint32(0) == 0x0000004C and uint32(4) == 0x00021401
}

rule HTML_Smuggling
{
    meta:
        description = "HTML that assembles a file in the browser and downloads it"
    strings:
        $blob = "new Blob(" nocase
        $atob = "atob(" nocase
        $dl1 = ".download" nocase
        $dl2 = "msSaveOrOpenBlob" nocase
        $url = "createObjectURL" nocase
    condition:
        filesize < 10MB and $blob and ($atob or $url) and ($dl1 or $dl2)
}

rule Obfuscated_Script_Eval
{
    meta:
        description = "Script that evaluates an unescaped or decoded payload"
    strings:
        $a = /eval\s*\(\s*(unescape|atob|String\.fromCharCode)\s*\(/ nocase
        $b = /document\.write\s*\(\s*unescape\s*\(/ nocase
    condition:
        filesize < 5MB and ($a or $b)
}

rule PowerShell_Encoded_Command
{
    meta:
        description = "PowerShell launched with an encoded or hidden command"
    strings:
        $ps = "powershell" nocase
        $e1 = /-e(nc|ncodedcommand)?\s+[A-Za-z0-9+\/=]{40,}/ nocase
        $e2 = /-w(indowstyle)?\s+hidden/ nocase
    condition:
        $ps and ($e1 or $e2)
}
