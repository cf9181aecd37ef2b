#!/usr/bin/env python3
"""End-to-end test of examples/gateway with the official `openai` Python client.

Usage: openai_client.py GATEWAY_BIN MODELGATES_BIN WORKDIR

Starts a mock OpenAI-format provider (streaming and not, with a usage chunk), creates a
management key with `modelgates keys create`, starts the gateway on a redb file, configures
it over its REST control plane, then drives it with `openai`: routing by the files a request
mentions, custom instructions injected, streaming passed through, usage and conversations
recorded (also when the client goes away mid-stream), provider failures and NO_ROUTE as
OpenAI-style errors, a disabled and a deleted key refused on the next request, and the
provider key never in an answer, a stored message or the gateway's trace log.
"""
import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai

GATEWAY, MODELGATES, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
UPSTREAM_KEY = "sk-upstream-" + secrets.token_hex(20)
WRONG_KEY = "sk-wrong-" + secrets.token_hex(20)
DB = os.path.join(WORK, "gateway.redb")
seen = []  # what the mock provider received
answers = []  # every answer text a client saw, for the leak scan


class Provider(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        auth = self.headers.get("Authorization")
        entry = {"path": self.path, "auth": auth, "body": body, "broken": False}
        seen.append(entry)
        if auth != f"Bearer {UPSTREAM_KEY}":
            # Like OpenAI's own 401: it echoes the key it was given.
            return self.reply_json(
                401, {"error": {"message": f"Incorrect API key provided: {auth}", "type": "invalid_request_error"}}
            )
        model = body["model"]
        if model == "boom":
            return self.reply_json(500, {"error": {"message": "the provider exploded", "type": "server_error"}})
        fim = not self.path.endswith("/chat/completions")
        words = [f"w{i} " for i in range(200)] if model == "slow" else ["Hello", " from ", model]
        cid = "chatcmpl-" + secrets.token_hex(6)
        usage = {"prompt_tokens": 11, "completion_tokens": len(words), "total_tokens": 11 + len(words)}

        def delta(w):
            if fim:
                return {"index": 0, "text": w, "finish_reason": None}
            return {"index": 0, "delta": {"content": w}, "finish_reason": None}

        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for w in words:
                    chunk = {"id": cid, "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [delta(w)]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if model == "slow":
                        time.sleep(0.05)
                if (body.get("stream_options") or {}).get("include_usage"):
                    chunk = {"id": cid, "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": usage}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                entry["broken"] = True
            self.close_connection = True
            return
        text = "".join(words)
        if fim:
            choice = {"index": 0, "text": text, "finish_reason": "stop"}
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        obj = "text_completion" if fim else "chat.completion"
        self.reply_json(200, {"id": cid, "object": obj, "created": 0, "model": model, "choices": [choice], "usage": usage})


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def main():
    provider = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    provider_url = f"http://127.0.0.1:{provider.server_address[1]}/v1"

    mkey = subprocess.run(
        [MODELGATES, "keys", "create", "--name", "admin", "--management", "--db", DB],
        capture_output=True, text=True, check=True,
    ).stdout.strip()

    env = dict(os.environ, MODELGATES_LOG="trace")
    gw = subprocess.Popen(
        [GATEWAY, "--db", DB, "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True, env=env
    )
    log = []
    where = queue.Queue()

    def pump():
        for line in gw.stderr:
            log.append(line)
            if "OpenAI-compatible API at" in line:
                where.put(line.rsplit(" at ", 1)[1].strip())

    threading.Thread(target=pump, daemon=True).start()
    try:
        base = where.get(timeout=60)
        run(base, mkey, provider_url)
    finally:
        gw.send_signal(signal.SIGTERM)
        code = gw.wait(timeout=60)
    check(code == 0, f"the gateway stopped cleanly on SIGTERM (exit {code})")
    text = "".join(log)
    check(len(text) > 1000, f"the gateway logged at trace level ({len(text)} bytes)")
    for secret in (UPSTREAM_KEY, WRONG_KEY):
        check(secret not in text, "no provider key in the gateway's log")
        check(all(secret not in a for a in answers), "no provider key in any answer")
    print("E2E PASSED", flush=True)


def run(base, mkey, provider_url):
    root = base[: -len("/v1")]
    rest = httpx.Client(base_url=root + "/api/v1", headers={"Authorization": f"Bearer {mkey}"}, timeout=30)

    def call(method, path, **kw):
        r = rest.request(method, path, **kw)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        answers.append(r.text)
        return r.json() if r.content else None

    call("POST", "/provider-endpoints", json={
        "name": "mock", "provider_type": "openai", "endpoint": provider_url,
        "auth_type": "api_key", "api_key": UPSTREAM_KEY,
    })
    rules = [
        {"provider_name": "mock", "model": "model-py", "matcher_type": "filename_match", "matcher": "*.py"},
        {"provider_name": "mock", "model": "model-fim", "matcher_type": "fim_filename", "matcher": "*.rs"},
        {"provider_name": "mock", "model": "slow", "matcher_type": "filename_match", "matcher": "*.slow"},
        {"provider_name": "mock", "model": "boom", "matcher_type": "filename_match", "matcher": "*.boom"},
        {"provider_name": "mock", "model": "model-default", "matcher_type": "catch_all"},
    ]
    for model in ("model-py", "model-fim", "slow", "boom", "model-default"):
        call("POST", "/workspaces/default/models", json={
            "provider": "mock", "family": model, "maxInputTokens": 8192, "maxOutputTokens": 1024,
            "inputPricePerMillionTokens": "1", "outputPricePerMillionTokens": "2",
        })
    call("PUT", "/workspaces/default/muxes", json=rules)
    call("PUT", "/workspaces/default/custom-instructions", json={"prompt": "Always answer in Rust."})
    created = call("POST", "/keys", json={"name": "client", "workspace_id": "default", "kind": "inference"})
    ikey, key_id = created["key"], created["data"]["hash"]
    client = openai.OpenAI(base_url=base, api_key=ikey, max_retries=0)
    ok_requests = 0

    # 1. A chat naming a Python file routes by the *.py rule; instructions lead the system prompt.
    raw = client.chat.completions.with_raw_response.create(
        model="anything",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Fix this:\n```python src/app.py\nprint(1)\n```"},
        ],
    )
    reply = raw.parse()
    answers.append(reply.model_dump_json())
    ok_requests += 1
    check(reply.choices[0].message.content == "Hello from model-py", "a *.py chat is answered by model-py")
    check(raw.headers["x-modelgates-rule"] == "0" and raw.headers["x-modelgates-provider"] == "mock",
          "the answer names the rule and provider that served it")
    got = seen[-1]
    check(got["body"]["model"] == "model-py", "the provider was asked for the rule's model")
    check(got["auth"] == f"Bearer {UPSTREAM_KEY}", "the provider got its own key, not the client's")
    check(got["body"]["messages"][0] == {"role": "system", "content": "Always answer in Rust.\n\nBe brief."},
          "custom instructions lead the system prompt")
    check(reply.usage.prompt_tokens == 11, "the provider's usage reaches the client")

    # 2. A stream without files: catch-all; no usage chunk unless the client asks for one.
    chunks = list(client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "hello"}], stream=True))
    ok_requests += 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    answers.append(text)
    check(text == "Hello from model-default", "a stream is passed through whole (catch-all rule)")
    check(all(c.choices for c in chunks), "no usage chunk the client did not ask for")
    check(seen[-1]["body"]["stream_options"] == {"include_usage": True}, "the gateway asked the provider for usage")
    check(seen[-1]["body"]["messages"][0]["content"] == "Always answer in Rust.", "instructions as a new system message")
    chunks = list(client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "again"}], stream=True,
        stream_options={"include_usage": True}))
    ok_requests += 1
    check(chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 11,
          "the usage chunk reaches a client that asked for it")

    # 3. FIM: a Path comment names the file; the *.rs FIM rule serves it, streaming and not.
    fim = client.completions.create(model="x", prompt="// Path: src/lib.rs\nfn main() {", max_tokens=5)
    ok_requests += 1
    check(fim.choices[0].text == "Hello from model-fim", "a FIM request for a .rs file is answered by model-fim")
    check(seen[-1]["path"] == "/v1/completions" and "messages" not in seen[-1]["body"], "FIM goes to /completions")
    parts = list(client.completions.create(model="x", prompt="// Path: src/lib.rs\n", stream=True))
    ok_requests += 1
    check("".join(p.choices[0].text for p in parts if p.choices) == "Hello from model-fim", "a FIM stream")

    # 4. A secret in the prompt is stored redacted.
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    client.chat.completions.create(model="x", messages=[{"role": "user", "content": f"my token is {token}"}],
                                   extra_headers={"x-modelgates-chat-id": "chat-secret"})
    ok_requests += 1

    # 5. The client goes away mid-stream: usage is recorded anyway (estimated).
    with httpx.Client(timeout=30) as h:
        with h.stream("POST", base + "/chat/completions", headers={"Authorization": f"Bearer {ikey}"},
                      json={"model": "x", "stream": True,
                            "messages": [{"role": "user", "content": "```txt data.slow\n```"}]}) as r:
            cut_id = r.headers["x-request-id"]
            lines = 0
            for line in r.iter_lines():
                lines += line.startswith("data:")
                if lines >= 3:
                    break
    ok_requests += 1
    deadline = time.time() + 10
    while time.time() < deadline and not seen[-1]["broken"]:
        time.sleep(0.1)
    check(seen[-1]["broken"], "the provider's stream was cut when the client went away")

    # 6. Provider failures are OpenAI-style errors; the provider's key never shows.
    try:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "```x.boom\n```"}])
        check(False, "a provider 500 is an error")
    except openai.APIStatusError as e:
        answers.append(str(e.body))
        check(e.status_code == 502 and e.body["code"] == "provider_error", f"a provider 500 is a 502 ({e.status_code})")
    call("PUT", "/provider-endpoints/mock/auth-material", json={"auth_type": "api_key", "api_key": WRONG_KEY})
    try:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
        check(False, "a refused provider key is an error")
    except openai.APIStatusError as e:
        answers.append(json.dumps(e.body) + e.response.text)
        check(e.status_code == 502 and e.body["code"] == "provider_auth_failed",
              "the provider refusing the gateway's key is a 502, not the client's 401")
        check(WRONG_KEY not in e.response.text and "[REDACTED]" in e.response.text,
              "the provider's echo of its key is scrubbed")
    call("PUT", "/provider-endpoints/mock/auth-material", json={"auth_type": "api_key", "api_key": UPSTREAM_KEY})

    # 7. NO_ROUTE: a rule change applies to the next request.
    call("PUT", "/workspaces/default/muxes", json=rules[:1])
    try:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "no files"}])
        check(False, "an unroutable request is an error")
    except openai.BadRequestError as e:
        check(e.body["code"] == "NO_ROUTE", "no matching rule is a 400 NO_ROUTE")
    call("PUT", "/workspaces/default/muxes", json=rules)

    # 8. Keys: a management key is refused; a disabled key, then a deleted one, on the next request.
    try:
        openai.OpenAI(base_url=base, api_key=mkey, max_retries=0).chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}])
        check(False, "a management key is refused")
    except openai.PermissionDeniedError:
        check(True, "a management key is refused with 403")
    call("PATCH", f"/keys/{key_id}", json={"disabled": True})
    try:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
        check(False, "a disabled key is refused")
    except openai.PermissionDeniedError:
        check(True, "a disabled key is refused with 403 on the next request")
    call("DELETE", f"/keys/{key_id}")
    try:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
        check(False, "a deleted key is refused")
    except openai.AuthenticationError:
        check(True, "a deleted key is refused with 401 on the next request")

    # 9. Usage and conversations were recorded (asynchronously: poll).
    deadline = time.time() + 20
    while True:
        usage = call("GET", "/workspaces/default/token-usage")
        if usage["token_usage"]["requests"] >= ok_requests or time.time() > deadline:
            break
        time.sleep(0.2)
    check(usage["token_usage"]["requests"] == ok_requests,
          f"every answered request was recorded ({usage['token_usage']['requests']} of {ok_requests})")
    by_model = {m["model"]: m for m in usage["tokens_by_model"].values()}
    check(by_model["model-py"]["token_usage"]["input_tokens"] == 11, "the provider's token counts were recorded")
    check("slow" in by_model and by_model["slow"]["token_usage"]["output_tokens"] < 200,
          "the cut stream was recorded with the tokens received before the cut")
    messages = call("GET", "/workspaces/default/messages", params={"page_size": 100})["data"]
    stored = json.dumps(messages)
    check(token not in stored and "REDACTED" in stored, "the secret in a prompt was stored redacted")
    check(UPSTREAM_KEY not in stored, "no provider key in stored messages")
    check(any(m.get("chat_id") == "chat-secret" for m in messages), "the chat id header is stored")
    check(cut_id.startswith("gw_"), "answers carry the gateway's request id")


if __name__ == "__main__":
    main()
