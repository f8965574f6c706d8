"""One module per console page (or group of pages); each route declares its permission."""
