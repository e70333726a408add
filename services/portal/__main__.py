from services.portal.app import main

main()
