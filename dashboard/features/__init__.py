"""One module per feature of the page, each with its layout and the callbacks serving it."""
