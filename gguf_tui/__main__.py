from gguf_tui.cli import main

raise SystemExit(main())
