"""The fixed reference app of the cold-start benchmark (deployed alone, its entry would be `app.handler`)."""
