from crm_complaints.cli import main

main()
