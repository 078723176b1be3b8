"""A local stand-in for the Kaggle API endpoints the `kaggle` client uses for competitions,
datasets and notebooks.

kagglesdk sends every call as `POST /api/v1/<service>/<Method>` with a camelCase JSON body to
http://localhost:7777 when KAGGLE_API_ENVIRONMENT=TEST. Downloads answer with a redirect to
the file (as Kaggle redirects to storage); submissions upload with a PUT to the URL that
StartSubmissionUpload returns, then CreateSubmission; datasets upload each file the same way
(StartBlobUpload) and are created (CreateDataset) or given a version (CreateDatasetVersion);
notebooks arrive with SaveKernel. `failures` switches on error modes.
"""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 7777
BASE = f"http://localhost:{PORT}"
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"  # the client parses exactly this format


class KaggleStandIn:
    def __init__(self):
        self.archives = {}       # competition slug -> (file name, bytes)
        self.requests = []       # (method, path, headers, parsed JSON body or byte count)
        self.uploads = {}        # upload token -> bytes
        self.submissions = []    # ListSubmissions entries (JSON shape)
        self.datasets = {}       # "owner/slug" -> list of create/version requests (JSON), newest last
        self.kernels = {}        # "owner/slug" -> list of SaveKernel requests (JSON)
        self.failures = {}       # "rpc": 401/403/404/"drop"; "file": "truncate"/"drop"; "upload": 403/"drop"
        self.server = ThreadingHTTPServer(("127.0.0.1", PORT), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method_name):
        return [r for r in self.requests if r[1].split("?")[0].endswith("/" + method_name)]


def _handler(standin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a close ends a truncated body

        def log_message(self, *args):
            pass

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, code, payload=b"", content_type="application/json", headers=None):
            if isinstance(payload, (dict, list)):
                payload = json.dumps(payload).encode()
            self.send_response(code)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def _drop(self):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def do_POST(self):
            body = self._body()
            request = json.loads(body or b"{}")
            standin.requests.append(("POST", self.path, dict(self.headers), request))
            method = self.path.rsplit("/", 1)[-1]
            failure = standin.failures.get("rpc")
            if failure == "drop":
                return self._drop()
            if failure in (401, 403, 404):
                return self._send(failure, {"code": failure, "message": "refused"})
            slug = request.get("competitionName")
            if method in ("DownloadDataFiles", "StartSubmissionUpload", "CreateSubmission", "ListSubmissions") \
                    and slug not in standin.archives:
                return self._send(404, {"code": 404, "message": f"Competition {slug} not found"})
            if method == "DownloadDataFiles":
                name, _ = standin.archives[slug]
                return self._send(302, content_type=None, headers={"Location": f"{BASE}/files/{name}?sig=x"})
            if method == "StartSubmissionUpload":
                token = f"blob-{len(standin.uploads) + 1}"
                standin.uploads[token] = None
                return self._send(200, {"token": token, "createUrl": f"{BASE}/upload/{token}"})
            if method == "CreateSubmission":
                if standin.uploads.get(request.get("blobFileTokens")) is None:
                    return self._send(400, {"code": 400, "message": "no such upload"})
                return self._send(200, {"message": f"Successfully submitted to {slug}", "ref": 4242})
            if method == "ListSubmissions":
                return self._send(200, {"submissions": standin.submissions, "nextPageToken": ""})
            if method == "StartBlobUpload":
                token = f"blob-{len(standin.uploads) + 1}"
                standin.uploads[token] = None
                return self._send(200, {"token": token, "createUrl": f"{BASE}/upload/{token}"})
            ref = f"{request.get('ownerSlug')}/{request.get('datasetSlug') or request.get('slug')}"
            if method == "GetDatasetStatus":
                if ref not in standin.datasets:
                    return self._send(404, {"code": 404, "message": "dataset not found"})
                return self._send(200, {"status": "READY"})
            if method in ("CreateDataset", "CreateDatasetVersion"):
                tokens = [file.get("token") for file in (request.get("body") or request).get("files", [])]
                if not tokens or any(standin.uploads.get(token) is None for token in tokens):
                    return self._send(400, {"code": 400, "message": "no such upload"})
                if (method == "CreateDatasetVersion") != (ref in standin.datasets):
                    return self._send(200, {"status": "error", "error": f"{ref}: wrong call for this dataset"})
                standin.datasets.setdefault(ref, []).append(request)
                return self._send(200, {"status": "ok", "ref": ref, "url": f"https://www.kaggle.com/datasets/{ref}",
                                        "error": ""})
            if method == "SaveKernel":
                standin.kernels.setdefault(request["slug"], []).append(request)
                return self._send(200, {"ref": f"/code/{request['slug']}", "url": f"https://www.kaggle.com/code/"
                                        f"{request['slug']}", "versionNumber": len(standin.kernels[request["slug"]]),
                                        "error": ""})
            return self._send(404, {"code": 404, "message": f"unknown method {method}"})

        def do_GET(self):
            standin.requests.append(("GET", self.path, dict(self.headers), None))
            name = self.path.split("?")[0].rsplit("/", 1)[-1]
            found = [data for file_name, data in standin.archives.values() if file_name == name]
            if not found:
                return self._send(404, b"no such object", "text/plain")
            failure = standin.failures.get("file")
            if failure == "drop":
                return self._drop()
            data = found[0]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.send_header("Content-Length", str(len(data) + (100 if failure == "truncate" else 0)))
            self.end_headers()
            self.wfile.write(data)  # a truncated body: the connection closes 100 bytes short

        def do_PUT(self):
            body = self._body()
            standin.requests.append(("PUT", self.path, dict(self.headers), len(body)))
            failure = standin.failures.get("upload")
            if failure == "drop":
                return self._drop()
            if failure == 403:
                return self._send(403, b"denied", "text/plain")
            standin.uploads[self.path.rsplit("/", 1)[-1]] = body
            return self._send(200, content_type=None)

    return Handler
