from threads_desktop.cli import main

raise SystemExit(main())
