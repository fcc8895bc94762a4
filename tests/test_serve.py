"""``seqlab serve`` end to end: the real server in its own process on a free loopback port, spoken to
over HTTP (no mock of the HTTP layer): the API against ``seqlab predict``, bad input, concurrency,
a fuzzing pass, and the viewer page in headless Chromium."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.cli.main import main
from seqlab.serve.batching import Batcher
from seqlab.tagger.inference import Tagger
from seqlab.tagger.predict import record
from seqlab.train.run import train
from tests.conftest import tiny_sentences

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["I eat the apple.", "the Apple shares rose today.", "General Motors and the apple", "  spaced   out  ", ""]


def same_answer(a: dict, b: dict) -> bool:
    """Two sentence records agree: tokens, offsets, tags, spans and n-best tags exactly; probabilities to
    1e-5 (a batch of other lengths rounds the encoder's arithmetic differently in the last bits)."""
    def exact(r: dict) -> dict:
        return {**r, "probs": None, "spans": [{k: v for k, v in s.items() if k != "confidence"} for s in r["spans"]],
                "nbest": [n["tags"] for n in r.get("nbest", [])]}

    def numbers(r: dict) -> list[float]:
        return [*r.get("probs", []), *(s["confidence"] for s in r["spans"] if "confidence" in s), *(n["prob"] for n in r.get("nbest", []))]

    return exact(a) == exact(b) and all(abs(x - y) <= 1e-5 for x, y in zip(numbers(a), numbers(b)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, object]:
        request = urllib.request.Request(self.base + path, data=body, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def tag(self, **payload) -> tuple[int, object]:
        return self.request("POST", "/v1/tag", json.dumps(payload).encode())


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    from seqlab.config.settings import load_config
    from tests.conftest import tiny_overrides, write_conll

    base = tmp_path_factory.mktemp("serve")
    data = {name: write_conll(base / f"{name}.conll", tiny_sentences(n, seed)) for name, n, seed in (("train", 60, 1), ("dev", 20, 2), ("test", 20, 3))}
    return train(load_config(None, tiny_overrides(data, base / "model") + ["train.epochs=4"]), progress=False).output_dir


@contextlib.contextmanager
def running_server(model: Path, *options: str):
    """``seqlab serve`` in its own process on a free port, ready; stopped at the end."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "seqlab", "-q", "serve", "--model", str(model), "--port", str(port), *options],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = Client(port)
    client.process = process
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                if client.request("GET", "/readyz")[0] == 200:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the server did not start: {process.stderr.read().decode()[-2000:]}")
        yield client
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(model) -> Client:
    with running_server(model, "--max-sentences", "64", "--max-request-bytes", "20000") as client:
        yield client


def predict_jsonl(model: Path, texts: list[str], *options: str) -> list[dict]:
    """What ``seqlab predict --format jsonl`` prints for these lines."""
    path = model.parent / "input.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["-q", "predict", "--model", str(model), "--input", str(path), "--input-format", "text", "--format", "jsonl", *options]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_health_readiness_model_and_schema(server, model):
    assert server.request("GET", "/healthz") == (200, {"status": "ok"})
    assert server.request("GET", "/readyz") == (200, {"ready": True})
    status, summary = server.request("GET", "/v1/model")
    tagger = Tagger.load(model)
    assert status == 200 and summary["name"] == "model" and summary["tags"] == tagger.tags
    assert summary["vocabulary"]["words"] == len(tagger.bundle.vocabs.words) and summary["metrics"]["test"]["f1"] >= 0
    status, schema = server.request("GET", "/openapi.json")
    assert status == 200 and set(schema["paths"]) == {"/v1/tag", "/v1/model", "/healthz", "/readyz"}


@pytest.mark.parametrize("options", [{}, {"probs": True, "nbest": 2}])
def test_tag_answers_what_predict_prints(server, model, options):
    status, answer = server.tag(texts=TEXTS, **options)
    assert status == 200 and len(answer["results"]) == len(TEXTS) and all(len(group) == 1 for group in answer["results"])
    flags = ["--probs"] * bool(options.get("probs")) + (["--nbest", str(options["nbest"])] if options.get("nbest") else [])
    assert [group[0] for group in answer["results"]] == predict_jsonl(model, TEXTS, *flags)


def test_sentences_are_split_with_offsets_into_the_original(server, model):
    text = "I eat the apple. The Apple shares rose today."
    status, answer = server.tag(texts=[text], split_sentences=True, probs=True)
    sentences = answer["results"][0]
    assert status == 200 and [s["tokens"][0] for s in sentences] == ["I", "The"]
    for sentence in sentences:
        assert all(text[a:b] == token for token, (a, b) in zip(sentence["tokens"], sentence["offsets"]))
        assert all(text[span["start_char"] : span["end_char"]] == span["text"] for span in sentence["spans"])


def test_tokens_in_give_the_same_tags_as_python(server, model):
    tokens = [["I", "eat", "the", "apple", "."], ["the", "Apple", "shares", "rose"]]
    status, answer = server.tag(tokens=tokens)
    assert status == 200 and [group[0]["tags"] for group in answer["results"]] == [list(t) for t in Tagger.load(model).predict_tokens(tokens)]
    assert "offsets" not in answer["results"][0][0]


@pytest.mark.parametrize("body,status,needle", [
    (b"{not json", 400, "invalid JSON"),
    (b"[1, 2]", 422, "expected a JSON object"),
    (b"{}", 422, "exactly one of 'texts'"),
    (b'{"texts": ["a"], "tokens": [["a"]]}', 422, "exactly one of"),
    (b'{"texts": "a sentence"}', 422, "'texts': expected a list of strings"),
    (b'{"tokens": [["a", ""]]}', 422, "'tokens': expected a list of lists of non-empty strings"),
    (b'{"texts": []}', 422, "nothing to tag"),
    (b'{"texts": ["a"], "nbest": 1000}', 422, "'nbest': expected a whole number from 0 to 100"),
    (b'{"texts": ["a"], "probs": "yes"}', 422, "'probs': expected true or false"),
    (b'{"texts": ["a"], "colour": 1}', 422, "unknown field 'colour'"),
    (b'{"texts": ["a\\u0000b"]}', 422, "NUL"),
    (json.dumps({"texts": ["word"] * 65}).encode(), 413, "65 sentences in one request; at most 64"),
    (json.dumps({"texts": ["word " * 1001]}).encode(), 413, "a sentence of 1001 tokens; at most 1000"),
    (json.dumps({"texts": ["x" * 30000]}).encode(), 413, "at most 20000"),
])
def test_bad_requests_get_a_4xx_naming_the_problem(server, body, status, needle):
    got, answer = server.request("POST", "/v1/tag", body)
    assert got == status and needle in answer["error"], answer


def test_wrong_paths_and_methods_are_json_errors(server):
    assert server.request("GET", "/v2/tag") == (404, {"error": "no such path: /v2/tag"})
    assert server.request("GET", "/v1/tag") == (405, {"error": "GET is not allowed on /v1/tag"})


def test_concurrent_requests_get_the_answers_they_get_alone(server):
    texts = [" ".join(words) for words, _ in tiny_sentences(48, 11)]
    alone = [server.tag(texts=[text], probs=True)[1]["results"][0] for text in texts]
    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        together = list(pool.map(lambda text: server.tag(texts=[text], probs=True)[1]["results"][0], texts))
    assert all(same_answer(a[0], b[0]) for a, b in zip(together, alone))


def test_batching_changes_no_result(model):
    """In process: the same sentences decoded one request at a time, and all at once through the batcher."""
    tagger = Tagger.load(model)
    texts = [" ".join(words) for words, _ in tiny_sentences(40, 5)] + ["a much longer sentence about the apple and the Apple stock today"]

    async def run() -> tuple[list, list, int]:
        batcher = Batcher(tagger, max_batch=64, max_wait=0.05)
        worker = asyncio.create_task(batcher.run())
        sentences = [s for text in texts for s in tagger_sentences(text)]
        alone = [await batcher.tag([s], True, 2) for s in sentences]
        calls = batcher.batches
        together = await asyncio.gather(*(batcher.tag([s], True, 2) for s in sentences))
        worker.cancel()
        return alone, list(together), batcher.batches - calls

    alone, together, calls = asyncio.run(run())
    assert all(same_answer(record(a[0]), record(b[0])) for a, b in zip(together, alone))
    assert calls < len(texts)  # they were decoded together


def test_the_decoding_process_answers_as_the_tagger_does(model):
    from seqlab.serve.decoder import DecodeProcess, model_summary

    tagger = Tagger.load(model)
    sentences = [s for text in TEXTS for s in tagger_sentences(text)]
    decoder = DecodeProcess(model)
    try:
        assert decoder.summary == model_summary(tagger, model)
        assert decoder.tag(sentences, nbest=2, probs=True) == tagger.tag(sentences, nbest=2, probs=True)
        assert decoder.tag([], nbest=0, probs=False) == []
    finally:
        decoder.close()
    assert not decoder.alive


def test_a_model_that_does_not_load_is_a_one_line_error(model, tmp_path):
    from seqlab.errors import ModelError
    from seqlab.serve.decoder import DecodeProcess

    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    (broken / "weights.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="weights"):
        DecodeProcess(broken)
    done = subprocess.run([sys.executable, "-m", "seqlab", "serve", "--model", str(broken), "--port", str(free_port())],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr and "weights" in done.stderr


def test_a_dead_decoding_process_gets_503s_not_a_crash(model):
    with running_server(model) as client:
        children = Path(f"/proc/{client.process.pid}/task/{client.process.pid}/children").read_text().split()
        decoder = [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(decoder) == 1
        os.kill(int(decoder[0]), 9)
        time.sleep(0.5)
        status, answer = client.tag(texts=["I eat the apple."])
        assert status == 503 and "the decoding process stopped (exit code -9)" in answer["error"]
        assert client.request("GET", "/readyz")[0] == 503 and client.request("GET", "/healthz")[0] == 200
        assert client.process.poll() is None


def tagger_sentences(text: str):
    from seqlab.data.readers import Sentence
    from seqlab.data.tokenizer import sentences_of

    return [Sentence(tokens, None, 0, source) for tokens, source in sentences_of(text)]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["texts", "tokens", "probs", "nbest", "split_sentences", "x"]), children, max_size=4),
    max_leaves=12,
)
BODIES = st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                   st.builds(lambda t, p, n, s: json.dumps({"texts": t, "probs": p, "nbest": n, "split_sentences": s}).encode(),
                             st.lists(st.text(max_size=40), max_size=4), st.booleans(), st.integers(-2, 4), st.booleans()))


def test_a_thousand_fuzzed_requests_get_no_5xx_and_good_ones_stay_right(server):
    expected = server.tag(texts=["I eat the apple."], probs=True)
    seen = []

    @settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(BODIES)
    def fuzz(body):
        status, answer = server.request("POST", "/v1/tag", body)
        assert status < 500, (body, answer)
        assert status == 200 or "error" in answer
        seen.append(status)
        if len(seen) % 100 == 0:
            assert server.tag(texts=["I eat the apple."], probs=True) == expected

    fuzz()
    assert len(seen) >= 1000 and server.request("GET", "/healthz")[0] == 200


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--virtual-time-budget=15000"]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (CI installs it: apt-get install chromium)")
def test_the_viewer_page_marks_entities_in_a_real_browser(server, tmp_path):
    """Headless Chromium loads the page with the two sentences of the notes; the page tags them through the
    API and the DOM holds one highlighted entity per sentence, with its type and confidence."""
    text = "I eat the apple. The Apple shares rose today."
    url = f"{server.base}/?text={urllib.parse.quote(text)}&details=1"
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url], capture_output=True, text=True, timeout=120)
    dom = done.stdout
    assert 'data-tagged="yes"' in dom, done.stderr[-2000:]
    assert dom.count('class="entity"') == 2 and 'data-type="FRUIT"' in dom and 'data-type="ORG"' in dom
    assert dom.count("data-confidence=") == 2 and "<td>B-FRUIT</td>" in dom


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (CI installs it: apt-get install chromium)")
def test_the_viewer_marks_the_right_characters_after_characters_outside_the_bmp(server, tmp_path):
    """Offsets count code points; the page once sliced UTF-16 units and marked "ng ap" for "apple"."""
    import re

    text = "😀😀 I eat the apple. 𝐀 The Apple shares rose today."
    url = f"{server.base}/?text={urllib.parse.quote(text)}"
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url], capture_output=True, text=True, timeout=120)
    marked = re.findall(r'<mark class="entity"[^>]*>([^<]*)<', done.stdout)
    assert marked == ["apple", "Apple"], done.stdout[-3000:]


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.lists(st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=60), min_size=1, max_size=4), st.booleans())
def test_the_service_gives_offsets_into_the_texts_sent(server, texts, split):
    from tests.test_robustness import check_offsets

    status, answer = server.tag(texts=texts, split_sentences=split, probs=True)
    assert status == 200 and len(answer["results"]) == len(texts)
    for text, sentences in zip(texts, answer["results"]):
        check_offsets(text, sentences)


@pytest.mark.parametrize("payload", [{"texts": ["I eat the \ud800 apple"]}, {"tokens": [["I", "\udfff"]]}, {"texts": ["\udc80"]}])
def test_a_lone_surrogate_is_a_422_not_a_500(server, payload):
    status, answer = server.request("POST", "/v1/tag", json.dumps(payload).encode())  # json.dumps writes it as an escape
    assert status == 422 and "lone surrogate" in answer["error"]
    assert server.tag(texts=["I eat the apple."])[0] == 200


@pytest.mark.parametrize(("options", "message"), [
    (["--max-wait-ms", "inf"], "--max-wait-ms: expected 0 to 10000, got inf"),
    (["--max-wait-ms", "nan"], "--max-wait-ms: expected 0 to 10000, got nan"),
    (["--max-wait-ms", "1e300"], "--max-wait-ms: expected 0 to 10000"),
    (["--port", "70000", "--max-batch", "0"], "2 config problems: --port: expected 0 to 65535, got 70000; --max-batch: expected 1 to 4096, got 0"),
    (["--max-request-bytes", "-1"], "--max-request-bytes: expected 1 to"),
])
def test_numeric_options_out_of_range_are_one_line_errors_before_loading(model, capsys, options, message):
    assert main(["serve", "--model", str(model), *options]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqlab serve: error: ") and message in err and "\n" not in err


def test_a_port_in_use_is_a_one_line_error_before_the_model_loads(model, capsys, monkeypatch):
    import seqlab.tagger.inference as inference

    loaded = []
    monkeypatch.setattr(inference.Tagger, "load", classmethod(lambda cls, *a, **k: loaded.append(a)))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--model", str(model), "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqlab serve: error: --host/--port: cannot listen on 127.0.0.1:") and "in use" in err
    assert not loaded


def test_a_large_request_is_decoded_over_several_calls_and_a_small_one_is_not_held_behind_it():
    """A fake decoder that records each call: a 100-sentence request with nbest and a later 1-sentence
    request; the small one is answered long before the large one, and every sentence comes back in order."""
    from seqlab.data.readers import Sentence

    calls: list[list[str]] = []

    class Recorder:
        def tag(self, sentences, nbest=0, probs=True):
            calls.append([s.tokens[0] for s in sentences])
            time.sleep(0.002 * sum(len(s.tokens) for s in sentences) * (1 + nbest) / 10)
            return [s.tokens[0] for s in sentences]

    big = [Sentence((f"big{k}", *["w"] * 49), None) for k in range(100)]
    small = [Sentence(("small",), None)]

    async def run():
        batcher = Batcher(Recorder(), max_batch=64, max_work=64 * 40)
        worker = asyncio.create_task(batcher.run())
        finished = []

        async def ask(name, sentences, nbest):
            result = await batcher.tag(sentences, False, nbest)
            finished.append(name)
            return result

        large = asyncio.create_task(ask("big", big, 2))
        await asyncio.sleep(0.01)
        little = asyncio.create_task(ask("small", small, 0))
        results = await asyncio.gather(large, little)
        worker.cancel()
        return results, finished

    (large, little), finished = asyncio.run(run())
    assert large == [f"big{k}" for k in range(100)] and little == ["small"]
    assert finished == ["small", "big"]
    assert len(calls) >= 6 and all(len([w for w in c if w != "small"]) * 50 * 3 <= 64 * 40 for c in calls)  # 17 of these sentences a call
    assert all(len(c) <= 64 for c in calls)


def test_a_stalled_body_gets_a_408_a_dropped_one_no_traceback_and_neither_holds_up_shutdown(model):
    headers = b"POST /v1/tag HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    with running_server(model, "--request-timeout", "1") as client:
        port = int(client.base.rsplit(":", 1)[1])
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(headers)  # and never the body
        stalled.settimeout(20)
        began = time.monotonic()
        assert stalled.recv(100).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - began < 10
        dropped = socket.create_connection(("127.0.0.1", port))
        dropped.sendall(headers + b'{"texts": ["I eat')
        dropped.close()  # gone mid-body
        held = socket.create_connection(("127.0.0.1", port))
        held.sendall(headers[:40])  # headers never finished: must not hold up shutdown
        time.sleep(0.5)
        assert client.tag(texts=["I eat the apple."])[0] == 200
        client.process.terminate()
        began = time.monotonic()
        client.process.wait(timeout=30)
        assert time.monotonic() - began < 15
        log = client.process.stderr.read().decode()
        assert "Traceback" not in log, log[-2000:]
        held.close()
        stalled.close()
