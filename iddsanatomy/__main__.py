from iddsanatomy.cli import main

raise SystemExit(main())
