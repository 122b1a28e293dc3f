"""Switchboard's bootstrap for Lambda's Python runtimes (python3.9 to python3.13).

It does what Lambda's own runtime does (aws/aws-lambda-python-runtime-interface-client, bootstrap.py): it
imports the handler named by _HANDLER from LAMBDA_TASK_ROOT, then loops on the Runtime API at
AWS_LAMBDA_RUNTIME_API (next, response, error; init error when the import fails), giving the handler Lambda's
context object, reporting errors in Lambda's shape and formatting the logging module's records as Lambda does.

Switchboard addition: connections to *.execute-api.{region}.amazonaws.com (ports 443 and 80) go to
SWITCHBOARD_GATEWAY_ADDR, keeping the TLS server name, so that handlers calling the @connections API of
"their" API reach this gateway unchanged (botocore verifies the gateway's certificate with AWS_CA_BUNDLE).
"""

import decimal
import json
import logging
import os
import re
import socket
import sys
import time
import traceback

_env = os.environ


# ---- execute-api redirection: every HTTP client resolves names with socket.getaddrinfo (urllib3 through
# its own create_connection, http.client through socket.create_connection).

_EXECUTE_API_HOST = re.compile(r"^[A-Za-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com\.?$")


def _split_host_port(hp):
    host, _, port = hp.rpartition(":")
    return host.strip("[]"), int(port)


if _env.get("SWITCHBOARD_GATEWAY_ADDR"):
    _GW_HOST, _GW_PORT = _split_host_port(_env["SWITCHBOARD_GATEWAY_ADDR"])
    _getaddrinfo = socket.getaddrinfo

    def _redirecting_getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and _EXECUTE_API_HOST.match(name) and str(port) in ("443", "80", "https", "http"):
            return _getaddrinfo(_GW_HOST, _GW_PORT, *args, **kwargs)
        return _getaddrinfo(host, port, *args, **kwargs)

    socket.getaddrinfo = _redirecting_getaddrinfo


# ---- Errors (lambda_runtime_exception.py).


class FaultException(Exception):
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _user_frames(tb):
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if not frame[0].endswith("/bootstrap.py"):
            return frames[i:]
    return []


def log_error(error_result):
    # Text format of Lambda's StandardLogSink: one record, lines joined with carriage returns.
    description = "[ERROR]"
    if error_result.get("errorType"):
        description += " " + error_result["errorType"]
    if error_result.get("errorMessage"):
        if error_result.get("errorType"):
            description += ":"
        description += " " + error_result["errorMessage"]
    lines = [description]
    stack = error_result.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
                continue
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\r".join(lines) + "\n")


# ---- JSON (lambda_runtime_marshaller.py): Decimal values, as boto3's DynamoDB resources return them.


class _Encoder(json.JSONEncoder):
    def default(self, obj):
        if isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return float("nan")
            return int(obj) if obj == obj.to_integral_value() else float(obj)
        return super().default(obj)


_ENSURE_ASCII = _env.get("AWS_EXECUTION_ENV") not in ("AWS_Lambda_python3.12", "AWS_Lambda_python3.13")


def to_json(obj):
    return json.dumps(obj, cls=_Encoder, ensure_ascii=_ENSURE_ASCII, allow_nan=True)


# ---- The Runtime API client.
#
# A small HTTP/1.1 client on one kept-alive socket rather than http.client: Lambda's own runtime client is
# native for the same reason (http.client's response objects, header parsing into email.message objects and
# buffered file reads cost this process more CPU per invocation than the rest together). Each request goes
# out with one sendall and each answer is read by its Content-Length (Switchboard's Runtime API server
# always sends one). An invocation's outcome and the next GET /next go out in one write (pipelined); the
# server answers both in order.

_NEXT = "/2018-06-01/runtime/invocation/next"


class RuntimeAPIError(Exception):
    pass


class RuntimeClient:
    def __init__(self, address):
        self.address = address
        self.host, self.port = _split_host_port(address)
        self.host_header = ("Host: %s\r\n" % address).encode("latin-1")
        self.sock = None
        self.buf = bytearray()

    def _connect(self):
        self.sock = socket.create_connection((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def _close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = bytearray()

    def _request(self, method, path, body=None, headers=None):
        head = "%s %s HTTP/1.1\r\n" % (method, path)
        out = [head.encode("latin-1"), self.host_header]
        if headers:
            for k, v in headers.items():
                out.append(("%s: %s\r\n" % (k, str(v).replace("\r", " ").replace("\n", " "))).encode("latin-1"))
        if body is not None:
            out.append(b"Content-Length: %d\r\n\r\n" % len(body))
            out.append(body)
        else:
            out.append(b"\r\n")
        return b"".join(out)

    def _read_answer(self):
        """Reads one answer: (status, headers with lower-case names, body bytes)."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > 1 << 20:
                raise RuntimeAPIError("the Runtime API answered a head over 1 MiB")
            self._fill()
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise RuntimeAPIError("the Runtime API answered %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if "transfer-encoding" in headers:
            raise RuntimeAPIError(
                "the Runtime API answered Transfer-Encoding %s, which this bootstrap does not read" % headers["transfer-encoding"]
            )
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            raise RuntimeAPIError("the Runtime API answered Content-Length %s" % headers.get("content-length"))
        start = end + 4
        while len(self.buf) < start + length:
            self._fill()
        body = bytes(self.buf[start : start + length])
        del self.buf[: start + length]
        if headers.get("connection", "").lower() == "close":
            self._close()
        return int(parts[1]), headers, body

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("the Runtime API closed the connection")
        self.buf += data

    def _exchange(self, data, answers):
        """Sends data (answers requests) and returns their answers in order: fewer when the Runtime API
        closed the connection after answering some of them."""
        for attempt in (1, 2):
            if self.sock is None:
                self._connect()
            got = []
            try:
                self.sock.sendall(data)
                while len(got) < answers and self.sock is not None:
                    got.append(self._read_answer())
                return got
            except (BrokenPipeError, ConnectionResetError):
                self._close()
                if got:
                    return got
                # The kept-alive connection was closed while idle; one new connection is worth a try.
                if attempt == 2:
                    raise

    def _call(self, method, path, body=None, headers=None):
        return self._exchange(self._request(method, path, body, headers), 1)[0]

    def _then_next(self, path, body, headers):
        """Posts an outcome and GET /next in one write; returns the next event."""
        got = self._exchange(self._request("POST", path, body, headers) + self._request("GET", _NEXT), 2)
        posted = got[0]
        if posted[0] != 202:
            sys.stdout.write("POST %s answered %d: %s\n" % (path, posted[0], posted[2].decode("utf-8", "replace")))
        if len(got) < 2:  # the connection was closed after the outcome's answer (Connection: close)
            return self.next()
        return self._check_next(got[1])

    @staticmethod
    def _check_next(answer):
        status, headers, body = answer
        if status != 200:
            raise RuntimeError("GET /runtime/invocation/next answered %d: %r" % (status, body))
        return headers, body

    def next(self):
        return self._check_next(self._call("GET", _NEXT))

    def post_result(self, invoke_id, body, content_type):
        """Posts a result and returns the next event (headers with lower-case names, body)."""
        return self._then_next(
            "/2018-06-01/runtime/invocation/%s/response" % invoke_id, body, {"Content-Type": content_type}
        )

    def post_error(self, invoke_id, error):
        """Posts an error and returns the next event."""
        return self._then_next(
            "/2018-06-01/runtime/invocation/%s/error" % invoke_id,
            to_json(error).encode(),
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error["errorType"] or "Unhandled"},
        )

    def post_init_error(self, error):
        self._call(
            "POST",
            "/2018-06-01/runtime/init/error",
            to_json(error).encode(),
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error["errorType"] or "Unhandled"},
        )


# ---- The context object (lambda_context.py).


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, d=None):
        d = d or {}
        self.cognito_identity_id = d.get("cognitoIdentityId")
        self.cognito_identity_pool_id = d.get("cognitoIdentityPoolId")


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __init__(self, d):
        self.custom = d.get("custom")
        self.env = d.get("env")
        self.client = d.get("client")


class LambdaContext:
    def __init__(self, invoke_id, client_context, cognito_identity, deadline_ms, invoked_function_arn):
        self.aws_request_id = invoke_id
        self.log_group_name = _env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = _env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = _env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = _env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = _env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = ClientContext(client_context) if client_context is not None else None
        self.identity = CognitoIdentity(cognito_identity)
        self._epoch_deadline_time_in_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        delta = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,identity=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
            )
        )


# ---- Logging (bootstrap.py's _setup_logging, text format).

_request_id = None


class _RequestIDFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id or ""
        return True


class _StdoutHandler(logging.Handler):
    def emit(self, record):
        sys.stdout.write(self.format(record))


def _setup_logging():
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(_RequestIDFilter())
    root = logging.getLogger()
    level = _env.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


class _Unbuffered:
    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


# ---- Loading the handler (bootstrap.py's _get_handler).


def get_handler(handler):
    import importlib

    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(FaultException.MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, str(e)))
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        m = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR, "Unable to import module '{}': {}".format(modname, str(e))
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR, "Syntax error in module '{}': {}".format(modname, str(e)), trace
        )
    try:
        return getattr(m, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND, "Handler '{}' missing on module '{}'".format(fname, modname), None
        )


# ---- The loop.


def _parse_json_header(value, name):
    if not value:
        return None
    try:
        return json.loads(value)
    except Exception as e:
        raise FaultException("Runtime.LambdaContextUnmarshalError", "Unable to parse {} JSON: {}".format(name, e))


def handle(client, request_handler, headers, body):
    invoke_id = headers.get("lambda-runtime-aws-request-id")
    error_result = None
    try:
        context = LambdaContext(
            invoke_id,
            _parse_json_header(headers.get("lambda-runtime-client-context"), "Client Context"),
            _parse_json_header(headers.get("lambda-runtime-cognito-identity"), "Cognito Identity"),
            int(headers.get("lambda-runtime-deadline-ms", "0")),
            headers.get("lambda-runtime-invoked-function-arn"),
        )
        content_type = headers.get("content-type", "application/json")
        if content_type == "application/json":
            try:
                event = json.loads(body)
            except Exception as e:
                raise FaultException(FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(e))
        else:
            event = body
        response = request_handler(event, context)
        if isinstance(response, bytes):
            result, result_type = response, "application/unknown"
        else:
            try:
                result, result_type = to_json(response).encode(), "application/json"
            except Exception as e:
                raise FaultException(FaultException.MARSHAL_ERROR, "Unable to marshal response: {}".format(e))
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        etype, value, tb = sys.exc_info()
        error_result = make_error(str(value), etype.__name__, traceback.format_list(_user_frames(tb)), invoke_id)
    if error_result is not None:
        log_error(error_result)
        return client.post_error(invoke_id, error_result)
    return client.post_result(invoke_id, result, result_type)


def main():
    global _request_id
    sys.stdout = _Unbuffered(sys.stdout)
    sys.stderr = _Unbuffered(sys.stderr)
    # The task root comes first on sys.path, as /var/task does on Lambda; not this file's directory.
    task_root = _env.get("LAMBDA_TASK_ROOT") or os.getcwd()
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path[0] = task_root
    else:
        sys.path.insert(0, task_root)
    client = RuntimeClient(_env["AWS_LAMBDA_RUNTIME_API"])
    error_result = None
    try:
        _setup_logging()
        request_handler = get_handler(_env.get("_HANDLER", ""))
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        etype, value, tb = sys.exc_info()
        error_result = make_error(str(value), etype.__name__, traceback.format_list(_user_frames(tb)))
    if error_result is not None:
        log_error(error_result)
        client.post_init_error(error_result)
        sys.exit(1)
    headers, body = client.next()
    while True:
        _request_id = headers.get("lambda-runtime-aws-request-id")
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        headers, body = handle(client, request_handler, headers, body)


if __name__ == "__main__":
    main()
