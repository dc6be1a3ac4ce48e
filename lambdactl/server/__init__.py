"""The HTTP face: the Lambda REST API (and function URLs) on loopback, translating requests into
`Service.call` and answers into the status codes, headers and bodies botocore expects.
Holds no business rule."""
