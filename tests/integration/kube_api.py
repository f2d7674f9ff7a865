"""A stand-in for the Kubernetes API server's pod list/watch, for the discovery and sharding tests
of issue 11: no API server can run here. HTTPS on 127.0.0.1:0 with a bearer token, serving
`GET /api/v1/pods` and `GET /api/v1/namespaces/{ns}/pods` as kubernetes.io's "Kubernetes API
Concepts" describes (efficient detection of changes, watch bookmarks, resource versions, 410 Gone)
and with the core/v1 Pod, PodList, WatchEvent and Status shapes:

- a list is a PodList whose items carry no kind/apiVersion (the real server omits them:
  kubernetes/kubernetes#63676), with metadata.resourceVersion the revision it was built at;
- a watch is one chunked application/json response, one `{"type","object"}` line per event;
  objects in events do carry kind/apiVersion. Unset or "0" resourceVersion starts with synthetic
  ADDED events; any other starts after it, replayed from the kept history. A resourceVersion
  older than the history (see `compact()`) gets HTTP 200 and an ERROR event with a 410 "Expired"
  Status, as the watch cache answers; a list only gets a 410 with resourceVersionMatch=Exact;
- a change that makes a pod stop (start) matching a watch's selectors reaches that watch as
  DELETED (ADDED), as the watch cache filters events.

Ignored, and said so in README.md: limit/continue (the whole list is one page), sendInitialEvents,
Accept negotiation (always JSON), and the 3 s wait before "Too large resource version" (here at
once). Run by itself to curl it: `python3 tests/integration/kube_api.py`."""

import datetime
import http.server
import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

from support import wait_on

POD_COLLECTION = re.compile(r"^/api/v1/(?:namespaces/([a-z0-9-]+)/)?pods$")
# The pod fields a fieldSelector may use, and where they are (a subset of the server's list).
POD_FIELDS = {"metadata.name": ("metadata", "name"),
              "metadata.namespace": ("metadata", "namespace"),
              "spec.nodeName": ("spec", "nodeName"), "status.phase": ("status", "phase"),
              "status.podIP": ("status", "podIP")}
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           410: "Expired", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}


def status_object(code, message, reason=None):
    """A meta/v1 Status, the body of every error and of a watch's ERROR event."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason or REASONS.get(code, "InternalError"),
            "code": code}


class BadSelector(ValueError):
    pass


def field_matcher(selector):
    """A predicate on pods for a fieldSelector: `,`-joined `field=value`, `==` or `!=` terms."""
    terms = []
    for term in filter(None, (selector or "").split(",")):
        match = re.fullmatch(r"([\w.]+)\s*(!=|==|=)\s*(.*)", term.strip())
        if not match:
            raise BadSelector(f"invalid field selector: '{term}'")
        field, op, value = match.groups()
        if field not in POD_FIELDS:
            raise BadSelector(f'field label not supported: {field}')
        terms.append((POD_FIELDS[field], op == "!=", value))
    return lambda pod: all((str(pod[a].get(b) or "") == value) != negate
                           for (a, b), negate, value in terms)


def label_matcher(selector):
    """A predicate on pods for a labelSelector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
    `k notin (a,b)`, `k` and `!k`, `,`-joined outside parentheses."""
    terms = []
    for term in re.split(r",(?![^()]*\))", selector or ""):
        term = term.strip()
        if not term:
            continue
        if match := re.fullmatch(r"([\w./-]+)\s*(!=|==|=)\s*([\w.-]*)", term):
            key, op, value = match.groups()
            terms.append((key, op == "!=", lambda v, value=value: v == value))
        elif match := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^()]*)\)", term):
            key, op, values = match.groups()
            allowed = {v.strip() for v in values.split(",")}
            terms.append((key, op == "notin", lambda v, allowed=allowed: v in allowed))
        elif match := re.fullmatch(r"(!?)([\w./-]+)", term):
            terms.append((match[2], match[1] == "!", lambda v: v is not None))
        else:
            raise BadSelector(f"unable to parse requirement: '{term}'")
    return lambda pod: all(test((pod["metadata"].get("labels") or {}).get(key)) != negate
                           for key, negate, test in terms)


def make_server_pki(directory):
    """A CA and a server certificate for 127.0.0.1 and localhost, as PEM files: (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - day).not_valid_after(now + 30 * day)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - day).not_valid_after(now + 30 * day)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, name) for name in ("ca.crt", "apiserver.crt", "apiserver.key")]
    for path, data in zip(paths, (
            ca.public_bytes(serialization.Encoding.PEM),
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))):
        with open(path, "wb") as f:
            f.write(data)
    return paths


class _Watch:
    """One open watch stream: the event lines queued for it and why it must end. It gets the
    changes after `after_rv` that `matches` selects, and bookmarks if it asked for them."""

    def __init__(self, matches, bookmarks, after_rv, connection):
        self.matches, self.bookmarks, self.after_rv = matches, bookmarks, after_rv
        self.connection = connection
        self.lines = []
        self.dropped = False  # drop_watches(): end without the last chunk
        self.finish = False  # end cleanly once `lines` is written (after an ERROR event)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.fake.serve(self)

    def send_json(self, status, obj, headers=()):
        body = _compact_json(obj)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


class FakeKubeApi:
    """The stand-in at `url` (https://127.0.0.1:PORT), trusted through `ca_file`, answering
    requests bearing `token` (also in `token_file`, as a service account token is mounted).
    Tests change pods with add_pod/update_pod/delete_pod; each change bumps one global
    resourceVersion, as etcd's revision, and is kept in the history watches resume from."""

    def __init__(self, first_resource_version=1000):
        self.directory = tempfile.mkdtemp(prefix="kube-api-")
        self.ca_file, cert_file, key_file = make_server_pki(self.directory)
        self.token = secrets.token_urlsafe(32)
        self.token_file = os.path.join(self.directory, "token")
        with open(self.token_file, "w") as f:
            f.write(self.token)
        self.cond = threading.Condition()
        self.pods = {}  # (namespace, name) -> pod
        self.resource_version = first_resource_version
        self.history = []  # (rv, type, object, previous object or None), oldest first
        self.oldest_resumable = first_resource_version  # a watch may resume after this RV
        self.watches = []
        self.requests = []  # (method, path, query dict) of every request, failed ones too
        self.scripted_failures = []
        self.closing = False
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.fake = self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        # The handshake happens in the handler's thread, so a stuck client cannot block accept().
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def agent_config(self):
        """The agent's `kubernetes:` section for reaching this stand-in."""
        return (f"kubernetes:\n  api_server: {self.url}\n  ca_file: {self.ca_file}\n"
                f"  token_file: {self.token_file}\n")

    # ---- test controls --------------------------------------------------------------------

    def add_pod(self, name, namespace="default", node="node-a", ip="127.0.0.1",
                annotations=None, labels=None, ready=True, containers=None, phase="Running"):
        """Creates a pod (ADDED), Running by default; `containers` as in the API (name, ports:
        containerPort, protocol, name), by default one `app` container with 8080/TCP `http`."""
        pod = {"metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()),
                            "creationTimestamp": _now()},
               "spec": {}, "status": {"startTime": _now()}}
        _apply(pod, node=node, ip=ip, annotations=annotations or {}, labels=labels or {},
               ready=ready, phase=phase, containers=containers if containers is not None else
               [{"name": "app", "ports": [{"containerPort": 8080, "name": "http"}]}])
        with self.cond:
            if (namespace, name) in self.pods:
                raise ValueError(f"pod {namespace}/{name} exists")
            return self._record("ADDED", (namespace, name), pod, None)

    def update_pod(self, name, namespace="default", **changes):
        """Changes node, ip, annotations, labels (replaced whole, as a PUT), ready, phase or
        containers (MODIFIED); returns the new pod."""
        with self.cond:
            previous = self.pods[(namespace, name)]
            pod = json.loads(json.dumps(previous))
            _apply(pod, **changes)
            return self._record("MODIFIED", (namespace, name), pod, previous)

    def delete_pod(self, name, namespace="default"):
        """Removes the pod (DELETED, with its last state at the deletion's resourceVersion)."""
        with self.cond:
            previous = self.pods[(namespace, name)]
            return self._record("DELETED", (namespace, name), json.loads(json.dumps(previous)),
                                previous)

    def send_bookmark(self):
        """Sends a BOOKMARK at the current resourceVersion to every watch that allowed them."""
        with self.cond:
            line = _event_line("BOOKMARK", {"kind": "Pod", "apiVersion": "v1", "metadata": {
                "resourceVersion": str(self.resource_version)}})
            for watch in self.watches:
                if watch.bookmarks:
                    watch.lines.append(line)
            self.cond.notify_all()
            return self.resource_version

    def compact(self):
        """Forgets the history, as etcd compaction: a watch from an older RV gets 410 Expired."""
        with self.cond:
            self.history.clear()
            self.oldest_resumable = self.resource_version

    def drop_watches(self):
        """Closes every open watch without the final chunk, as a dying API server would."""
        with self.cond:
            for watch in self.watches:
                watch.dropped = True
                try:
                    watch.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.cond.notify_all()

    def fail_next(self, count, status=500):
        """The next `count` requests get `status` with a Status body."""
        with self.cond:
            self.scripted_failures += [status] * count

    def list_count(self):
        return self._count(lambda query: query.get("watch") not in ("1", "true"))

    def watch_count(self):
        return self._count(lambda query: query.get("watch") in ("1", "true"))

    def open_watches(self):
        with self.cond:
            return len(self.watches)

    def wait_requests(self, predicate, timeout=10.0):
        """Every request so far, once `predicate(requests)` holds."""
        return self._wait(lambda: list(self.requests) if predicate(self.requests) else None,
                          timeout, "requests")

    def wait_open_watches(self, count, timeout=10.0):
        return self._wait(lambda: len(self.watches) if len(self.watches) == count else None,
                          timeout, f"{count} open watches")

    def close(self):
        with self.cond:
            self.closing = True
        self.drop_watches()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        shutil.rmtree(self.directory, ignore_errors=True)

    # ---- the server side ------------------------------------------------------------------

    def _record(self, event_type, key, pod, previous):
        """Applies one change at the next resourceVersion and queues it for matching watches.
        Called under `cond`."""
        self.resource_version += 1
        pod["metadata"]["resourceVersion"] = str(self.resource_version)
        if event_type == "DELETED":
            del self.pods[key]
        else:
            self.pods[key] = pod
        event = (self.resource_version, event_type, pod, previous)
        self.history.append(event)
        for watch in self.watches:
            if event[0] > watch.after_rv and (line := _filtered_line(event, watch.matches)):
                watch.lines.append(line)
        self.cond.notify_all()
        return json.loads(json.dumps(pod))

    def serve(self, handler):
        parsed = urllib.parse.urlsplit(handler.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query,
                                                           keep_blank_values=True).items()}
        with self.cond:
            self.requests.append(("GET", parsed.path, query))
            failure = self.scripted_failures.pop(0) if self.scripted_failures else None
            self.cond.notify_all()
        if failure is not None:
            return handler.send_json(failure, status_object(failure, f"scripted {failure}"))
        # As the bearer-token authenticator reads it: the scheme's case does not matter.
        scheme, _, token = (handler.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.token:
            return handler.send_json(401, status_object(401, "Unauthorized"))
        collection = POD_COLLECTION.match(parsed.path)
        if not collection:
            return handler.send_json(404, status_object(
                404, "the server could not find the requested resource"))
        try:
            in_namespace = collection[1]
            by_fields = field_matcher(query.get("fieldSelector"))
            by_labels = label_matcher(query.get("labelSelector"))
        except BadSelector as error:
            return handler.send_json(400, status_object(400, str(error)))
        requested = query.get("resourceVersion", "")
        if requested and not requested.isdigit():
            return handler.send_json(400, status_object(
                400, f"invalid resource version: {requested}"))
        if query.get("resourceVersionMatch") == "Exact" and requested in ("", "0"):
            return handler.send_json(400, status_object(
                400, 'resourceVersionMatch "Exact" needs a resourceVersion other than "0"'))
        matches = (lambda pod: (in_namespace is None or pod["metadata"]["namespace"] ==
                                in_namespace) and by_fields(pod) and by_labels(pod))
        if query.get("watch") in ("1", "true"):
            return self._watch(handler, query, matches)
        return self._list(handler, query, matches)

    def _list(self, handler, query, matches):
        requested = query.get("resourceVersion", "")
        with self.cond:
            current, pods = self.resource_version, dict(self.pods)
            if requested and int(requested) > current:
                # The server waits up to 3 s for the cache to catch up; nothing will come here.
                answer = 504, status_object(504, f"Too large resource version: {requested}, "
                                                 f"current: {current}")
            elif query.get("resourceVersionMatch") == "Exact" and \
                    int(requested) < self.oldest_resumable:
                answer = 410, status_object(
                    410, "The resourceVersion for the provided list is too old.")
            else:
                if query.get("resourceVersionMatch") == "Exact":
                    current = int(requested)
                    for rv, _, pod, previous in reversed(self.history):  # undo newer changes
                        if rv > current:
                            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
                            if previous is None:
                                del pods[key]
                            else:
                                pods[key] = previous
                items = [json.loads(json.dumps(p)) for p in pods.values() if matches(p)]
                answer = 200, {"kind": "PodList", "apiVersion": "v1",
                               "metadata": {"resourceVersion": str(current)}, "items": items}
        headers = (("Retry-After", "1"),) if answer[0] == 504 else ()
        handler.send_json(*answer, headers=headers)

    def _watch(self, handler, query, matches):
        requested = query.get("resourceVersion", "")
        timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
        watch = _Watch(matches, query.get("allowWatchBookmarks") in ("1", "true"), 0,
                       handler.connection)
        with self.cond:
            if requested in ("", "0"):  # "Get State and Start at Most Recent / Any"
                watch.lines = [_event_line("ADDED", p) for p in self.pods.values() if matches(p)]
            elif int(requested) < self.oldest_resumable:
                watch.lines = [_event_line("ERROR", status_object(
                    410, f"too old resource version: {requested} ({self.oldest_resumable})"))]
                watch.finish = True
            else:  # "Start at Exact": every change after it (a future one included), none before
                watch.after_rv = int(requested)
                watch.lines = [line for event in self.history if event[0] > int(requested)
                               if (line := _filtered_line(event, matches))]
            # Registered before the headers go out: once a client has them, no change is missed.
            self.watches.append(watch)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Cache-Control", "no-cache, private")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            self._stream(handler, watch, timeout)
        finally:
            with self.cond:
                self.watches.remove(watch)
                self.cond.notify_all()

    def _stream(self, handler, watch, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                with self.cond:
                    # Wakes every 0.2 s to notice a client that hung up on an idle watch.
                    if not (watch.lines or watch.dropped or watch.finish):
                        left = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
                        self.cond.wait(max(left, 0))
                    lines, watch.lines = watch.lines, []
                    dropped, finish = watch.dropped or self.closing, watch.finish
                if dropped:
                    handler.close_connection = True
                    return
                for line in lines:
                    handler.write_chunk(line)
                if finish or (deadline is not None and time.monotonic() >= deadline):
                    handler.write_chunk(b"")  # the last chunk: the server ended the watch
                    return
                if not lines and _peer_closed(handler.connection):
                    handler.close_connection = True
                    return
        except OSError:  # the client went away mid-write
            handler.close_connection = True

    def _count(self, is_kind):
        with self.cond:
            return sum(1 for _, path, query in self.requests
                       if POD_COLLECTION.match(path) and is_kind(query))

    def _wait(self, pick, timeout, what):
        return wait_on(self.cond, pick, timeout, what)


def _apply(pod, node=None, ip=None, annotations=None, labels=None, ready=None, phase=None,
           containers=None):
    """Sets the given fields of a pod in the API's shape, status conditions included."""
    meta, spec, status = pod["metadata"], pod["spec"], pod["status"]
    for field, value in (("annotations", annotations), ("labels", labels)):
        if value is not None:  # empty maps are omitted, as Go's omitempty does
            meta.pop(field, None)
            meta.update({field: dict(value)} if value else {})
    if node is not None:
        spec["nodeName"] = node
        status["hostIP"] = "10.0.0.1"
    if ip is not None:
        status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
    if phase is not None:
        status["phase"] = phase
    if containers is not None:
        # protocol defaults to TCP server-side; a container without ports has no `ports` key.
        spec["containers"] = [{"image": f"registry.example/{c['name']}:1", **c, **({"ports": [
            {"protocol": "TCP", **port} for port in c["ports"]]} if c.get("ports") else {})}
            for c in containers]
    if ready is not None or containers is not None:
        if ready is None:  # new containers keep the pod's readiness
            ready = any(c["type"] == "Ready" and c["status"] == "True"
                        for c in status["conditions"])
        text = "True" if ready else "False"
        status["conditions"] = [
            {"type": kind, "status": value, "lastProbeTime": None, "lastTransitionTime": _now()}
            for kind, value in (("Initialized", "True"), ("Ready", text),
                                ("ContainersReady", text), ("PodScheduled", "True"))]
        status["containerStatuses"] = [
            {"name": c["name"], "ready": ready, "restartCount": 0, "started": True,
             "image": c["image"], "state": {"running": {"startedAt": _now()}}}
            for c in spec["containers"]]


def _filtered_line(event, matches):
    """The event as one watch with the predicate `matches` sees it: the watch cache turns a
    change into or out of the selection into ADDED or DELETED (the old state at the new RV)."""
    rv, event_type, pod, previous = event
    now = event_type != "DELETED" and matches(pod)
    before = previous is not None and matches(previous)
    if now:
        return _event_line("MODIFIED" if before else "ADDED", pod)
    if before:
        gone = json.loads(json.dumps(previous))
        gone["metadata"]["resourceVersion"] = str(rv)
        return _event_line("DELETED", gone)
    return None


def _event_line(event_type, obj):
    if event_type != "ERROR" and "kind" not in obj:
        obj = {"kind": "Pod", "apiVersion": "v1", **obj}
    return _compact_json({"type": event_type, "object": obj}) + b"\n"


def _compact_json(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def _peer_closed(connection):
    """Whether the client hung up: a watch client sends nothing, so readable means closed."""
    try:
        return bool(select.select([connection], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    api = FakeKubeApi()
    api.add_pod("web-0", labels={"app": "web"}, annotations={"prometheus.io/scrape": "true"})
    print(f"{api.url}  --cacert {api.ca_file}  -H 'Authorization: Bearer {api.token}'",
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # clean up the key and token too
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        api.close()


if __name__ == "__main__":
    main()
