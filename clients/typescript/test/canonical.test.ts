/**
 * Canonical JSON and state hashes match phoenixflight_api.protocol byte for byte on tricky
 * values (number layout, key order by UTF-16 code units, escapes), and the token's signed
 * bytes are the daemon's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type JsonValue, canonicalJson, stateHash, tokenSignedBytes } from "../src/canonical.js";
import { runPython } from "./python.js";

// Written as JSON text so both languages parse the very same doubles and strings.
const CASES = String.raw`[
  {"a": 1, "b": 2.5, "c": -0.0, "d": 1e21, "e": 1e20, "f": 1e-6, "g": 1e-7},
  {"tiny": 5e-324, "huge": 1.7976931348623157e308, "sum": 0.30000000000000004, "x": 4.35},
  {"big": 123456789012345678901234567890, "neg": -1.5e-10, "int": 9007199254740993},
  {"10": 1, "2": 2, "1": 3, "": 4, "a": 5, "B": 6},
  {"\u00e9": 1, "\u20ac": 2, "\ud83d\ude00": 3, "\ufb01": 4, "z": 5, "\u0080": 6},
  {"s": "quote \" backslash \\ newline \n tab \t nul \u0000 unit \u001f del \u007f"},
  {"s": "line sep \u2028 para \u2029 bmp \u4e2d astral \ud83d\ude00 slash /"},
  {"nested": {"b": [1, {"d": null, "c": true}], "a": []}, "empty": {}, "f": false},
  {"pages": 6, "done": 2, "summary": ["page 1: ok", "page 2: ok"]}
]`;

test("canonical JSON and state hashes are the Python implementation's", () => {
  const expected = JSON.parse(runPython(
    "import json, sys\n" +
    "from phoenixflight_api import protocol\n" +
    "cases = json.load(sys.stdin)\n" +
    "print(json.dumps([[protocol.canonical_json(c), protocol.state_hash(c)] for c in cases]))",
    CASES)) as [string, string][];
  const cases = JSON.parse(CASES) as { [key: string]: JsonValue }[];
  assert.equal(expected.length, cases.length);
  cases.forEach((value, i) => {
    assert.equal(canonicalJson(value), expected[i]![0], `case ${i}`);
    assert.equal(stateHash(value), expected[i]![1], `case ${i}`);
  });
});

test("numbers are laid out as ECMAScript prints them", () => {
  assert.equal(canonicalJson([1e21, 1e-7, -0, 0.000001, 100, 1.5e300]), "[1e+21,1e-7,0,0.000001,100,1.5e+300]");
});

test("keys sort by UTF-16 code units, not code points", () => {
  // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB01.
  assert.equal(canonicalJson({ "\ufb01": 1, "\u{1f600}": 2 }), '{"\u{1f600}":2,"\ufb01":1}');
});

test("what JSON cannot hold is refused", () => {
  assert.throws(() => canonicalJson({ n: Number.NaN }), /NaN or infinite/);
  assert.throws(() => canonicalJson({ n: Number.POSITIVE_INFINITY }), /NaN or infinite/);
  assert.throws(() => canonicalJson({ s: "lone \ud800 surrogate" }), /not valid Unicode/);
});

test("a token's signed bytes are the Python implementation's", () => {
  const facts = { packetId: "doc-1", epoch: 3n, fromMember: "sum-1", toMember: "sum-ts",
    stateHash: "sha256:" + "ab".repeat(32), issuedAt: "2026-11-21T13:15:00.507312Z" };
  const expected = runPython(
    "import json, sys\n" +
    "from phoenixflight_api import protocol\n" +
    "f = json.load(sys.stdin)\n" +
    "sys.stdout.write(protocol.token_signed_bytes(f['packetId'], int(f['epoch']), " +
    "f['fromMember'], f['toMember'], f['stateHash'], f['issuedAt']).hex())",
    JSON.stringify({ ...facts, epoch: facts.epoch.toString() }));
  assert.equal(tokenSignedBytes(facts).toString("hex"), expected);
});
