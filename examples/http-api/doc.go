// Package httpapi is the README's HTTP API example: switchboard.yaml, an HTTP API with a Python Lambda
// function (pets/app.py, payload format 2.0), an HTTP_PROXY route, CORS and two stages. It has no Go code
// of its own; its test serves the config with a real gateway and drives it with an HTTP client.
package httpapi
