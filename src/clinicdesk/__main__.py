from clinicdesk.cli import main

main()
