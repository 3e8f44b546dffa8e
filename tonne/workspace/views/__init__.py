"""The signed-in pages of every role, one module per section. Each page reads
through the selectors and changes state only through the service functions,
exactly as the API does; a refused request shows the service's message and
stable code beside the form, and changes nothing."""
