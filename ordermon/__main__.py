from ordermon.cli import main

main()
