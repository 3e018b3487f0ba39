from pybuild12.cli import main

main()
