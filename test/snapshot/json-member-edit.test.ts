/** Setting one member of a JSON object in its text, every other character kept. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePythonJson } from "../../src/handlers/json.ts";
import { removeJsonMember, setJsonMember } from "../../src/snapshot/json-member-edit.ts";

const COUNTER = ["snapshot_version", "train"] as const;

describe("setJsonMember", () => {
  it("changes only the value's text: numbers JavaScript cannot hold, NaN, escapes and key order stay as written", () => {
    // As Python's json.dump(indent=4) wrote it.
    const before =
      '{\n    "seed": 12345678901234567890,\n    "lr": 1.0,\n    "best_loss": NaN,\n    "worst": -Infinity,\n' +
      '    "owner": "D\\u00e9tecteur \\"}{\\" [x]",\n    "snapshot_version": {\n        "other": 7,\n        "train": 2\n    },\n' +
      '    "nested": {"snapshot_version": {"train": 0}, "list": [1.50, {"train": 1}]},\n    "z": -0.0\n}';
    const after = setJsonMember(before, COUNTER, "3");
    assert.equal(after, before.replace('"train": 2', '"train": 3'));
  });

  it("adds a missing name after the others, and a missing counter object, laid out as json.dump(indent=4) would", () => {
    const counters = '{\n    "project_name": "p",\n    "snapshot_version": {\n        "other": 7\n    }\n}';
    assert.equal(
      setJsonMember(counters, COUNTER, "0"),
      '{\n    "project_name": "p",\n    "snapshot_version": {\n        "other": 7,\n        "train": 0\n    }\n}',
    );
    assert.equal(
      setJsonMember('{\n    "project_name": "p"\n}', COUNTER, "0"),
      '{\n    "project_name": "p",\n    "snapshot_version": {\n        "train": 0\n    }\n}',
    );
    for (const empty of ["{}", "{ }", "\n{\n}\n"]) {
      assert.equal(setJsonMember(empty, COUNTER, "0").trim(), '{\n    "snapshot_version": {\n        "train": 0\n    }\n}', JSON.stringify(empty));
    }
    assert.equal(
      setJsonMember('{\n    "snapshot_version": {}\n}', COUNTER, "0"),
      '{\n    "snapshot_version": {\n        "train": 0\n    }\n}',
    );
    // A tab-indented file keeps its tabs, and one Python wrote on Windows (text mode) its CRLF line ends.
    assert.equal(setJsonMember('{\n\t"a": 1\n}\n', COUNTER, "0"), '{\n\t"a": 1,\n\t"snapshot_version": {\n\t\t"train": 0\n\t}\n}\n');
    assert.equal(
      setJsonMember('{\r\n    "a": 1\r\n}', COUNTER, "0"),
      '{\r\n    "a": 1,\r\n    "snapshot_version": {\r\n        "train": 0\r\n    }\r\n}',
    );
  });

  it("follows a one-line file's separators: Python's compact ones, or JSON.stringify's", () => {
    assert.equal(
      setJsonMember('{"project_name": "p", "snapshot_version": {"other": 7}}', COUNTER, "0"),
      '{"project_name": "p", "snapshot_version": {"other": 7, "train": 0}}',
    );
    assert.equal(setJsonMember('{"project_name": "p"}', COUNTER, "0"), '{"project_name": "p", "snapshot_version": {"train": 0}}');
    assert.equal(setJsonMember('{"project_name":"p"}', COUNTER, "0"), '{"project_name":"p","snapshot_version":{"train":0}}');
  });

  it("replaces a counter that is not an object, and sets the last of duplicate keys (the one JSON readers keep)", () => {
    assert.equal(
      setJsonMember('{\n    "snapshot_version": null,\n    "x": 1\n}', COUNTER, "4"),
      '{\n    "snapshot_version": {\n        "train": 4\n    },\n    "x": 1\n}',
    );
    const duplicated = '{"snapshot_version": {"train": 1}, "snapshot_version": {"train": 2, "train": 3}}';
    const edited = setJsonMember(duplicated, COUNTER, "9");
    assert.equal(edited, '{"snapshot_version": {"train": 1}, "snapshot_version": {"train": 2, "train": 9}}');
    assert.deepEqual(parsePythonJson(edited), { snapshot_version: { train: 9 } });
  });

  it("finds keys by their value, whatever their escapes, and never inside a string", () => {
    const escaped = '{"snapshot\\u005fversion": {"\\u0074rain": 1}, "s": "\\"snapshot_version\\": {\\"train\\": 5}"}';
    assert.equal(setJsonMember(escaped, COUNTER, "2"), escaped.replace("rain\": 1", "rain\": 2"));
  });

  it("writes a new key with every character outside printable ASCII escaped, as Python's ensure_ascii does", () => {
    assert.equal(
      setJsonMember('{"snapshot_version": {}}', ["snapshot_version", "résumé\u007f😀"], "1"),
      '{"snapshot_version": {"r\\u00e9sum\\u00e9\\u007f\\ud83d\\ude00": 1}}',
    );
  });

  it("removes a member with its separators, every duplicate of it, and leaves the rest byte for byte", () => {
    const python = '{\n    "project_name": "p",\n    "snapshot_version": {\n        "train": 5,\n        "other": 2\n    },\n    "lr": 1.0\n}';
    assert.equal(
      removeJsonMember(python, COUNTER),
      '{\n    "project_name": "p",\n    "snapshot_version": {\n        "other": 2\n    },\n    "lr": 1.0\n}',
    );
    assert.equal(removeJsonMember('{"snapshot_version": {"a": 1, "train": NaN}}', COUNTER), '{"snapshot_version": {"a": 1}}');
    assert.equal(removeJsonMember('{"snapshot_version": {\n    "train": 1\n}}', COUNTER), '{"snapshot_version": {}}');
    const duplicated = '{"snapshot_version": {"train": 1, "x": 12345678901234567890, "train": 2}}';
    const edited = removeJsonMember(duplicated, COUNTER);
    assert.equal(edited, '{"snapshot_version": {"x": 12345678901234567890}}');
    assert.deepEqual(Object.keys(parsePythonJson(edited) as object), ["snapshot_version"]);
    for (const untouched of ['{"snapshot_version": {"other": 1}}', '{"snapshot_version": 3}', '{"p": 1}']) {
      assert.equal(removeJsonMember(untouched, COUNTER), untouched);
    }
  });
});
