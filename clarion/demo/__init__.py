"""What the Quickstart demo, the tests and the benchmark run locally: a generated campus and
capture servers standing in for the SMS gateway and the mail server."""
