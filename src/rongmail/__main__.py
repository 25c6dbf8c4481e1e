from rongmail.cli.main import main

raise SystemExit(main())
