from credhelper.cli import main

raise SystemExit(main())
