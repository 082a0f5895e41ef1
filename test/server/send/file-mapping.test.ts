import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ServiceError } from "../../../src/server/errors.js";
import {
  MAX_FILE_MAPPINGS,
  MappingError,
  normaliseDestPath,
  parseFileMapping,
  parseFileMappings,
  splitMappingString,
  type FileMappingInput,
} from "../../../src/server/send/file-mapping.js";

function rejects(input: FileMappingInput, index: number, pattern: RegExp): void {
  assert.throws(
    () => parseFileMapping(input, index),
    (error: unknown) => {
      assert.ok(error instanceof MappingError, String(error));
      assert.ok(error instanceof ServiceError);
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.equal(error.param, "fileMappings");
      assert.equal(error.index, index);
      assert.match(error.message, new RegExp(`^fileMappings\\[${index}\\]: `));
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe("fileMappings entries (api.md §3.3)", () => {
  it("splits the string form at the first unescaped colon", () => {
    assert.deepEqual(parseFileMapping("/data/a.txt:out/b.txt", 0), {
      srcPath: "/data/a.txt",
      destPath: "out/b.txt",
    });
    assert.deepEqual(parseFileMapping("a:b:c", 0), { srcPath: "/a", destPath: "b:c" });
  });

  it("uses the source path as destination when there is no colon", () => {
    assert.deepEqual(parseFileMapping("/data/x/", 0), { srcPath: "/data/x", destPath: "data/x" });
    assert.deepEqual(parseFileMapping("rel/./y", 0), { srcPath: "/rel/y", destPath: "rel/y" });
    assert.deepEqual(parseFileMapping({ srcPath: "/p/q" }, 0), { srcPath: "/p/q", destPath: "p/q" });
  });

  it("reads \\: as a colon and \\\\ as a backslash; other backslashes stay", () => {
    assert.deepEqual(splitMappingString("a\\:b:c"), { src: "a:b", dest: "c" });
    assert.deepEqual(splitMappingString("a\\\\:b"), { src: "a\\", dest: "b" });
    assert.deepEqual(splitMappingString("a\\b"), { src: "a\\b", dest: null });
    assert.deepEqual(splitMappingString("x:y\\:z\\\\w"), { src: "x", dest: "y:z\\w" });
    assert.deepEqual(splitMappingString("trailing\\"), { src: "trailing\\", dest: null });
    assert.deepEqual(parseFileMapping("/t/12\\:00.log", 0), {
      srcPath: "/t/12:00.log",
      destPath: "t/12:00.log",
    });
  });

  it("treats a drive letter as an ordinary name", () => {
    assert.deepEqual(parseFileMapping("C:\\data\\x", 0), { srcPath: "/C", destPath: "\\data\\x" });
    assert.deepEqual(parseFileMapping({ srcPath: "/a", destPath: "C:/x" }, 0), {
      srcPath: "/a",
      destPath: "C:/x",
    });
  });

  it("takes the object form literally (no escapes)", () => {
    assert.deepEqual(parseFileMapping({ srcPath: "/a\\:b", destPath: "c:d" }, 0), {
      srcPath: "/a\\:b",
      destPath: "c:d",
    });
  });

  it("normalises destPath to a relative POSIX path", () => {
    assert.deepEqual(parseFileMapping("/a:/abs/dir/", 0), { srcPath: "/a", destPath: "abs/dir" });
    assert.deepEqual(parseFileMapping("/a:x//./y/../z", 0), { srcPath: "/a", destPath: "x/z" });
    assert.deepEqual(parseFileMapping("/a:/", 0), { srcPath: "/a", destPath: "" });
    assert.deepEqual(parseFileMapping("/a:", 0), { srcPath: "/a", destPath: "" });
    assert.equal(normaliseDestPath("a/.."), "");
    assert.equal(normaliseDestPath("a/../.."), null);
  });

  it("refuses empty sources, NUL bytes, '..' in sources and escaping destinations", () => {
    rejects("", 0, /srcPath is empty/);
    rejects(":dest", 1, /srcPath is empty/);
    rejects({ srcPath: "" }, 2, /srcPath is empty/);
    rejects("a\0b", 3, /srcPath contains a NUL byte/);
    rejects({ srcPath: "/a", destPath: "b\0" }, 4, /destPath contains a NUL byte/);
    rejects("/a/../b", 5, /srcPath must not contain '\.\.'/);
    rejects("/a:../b", 6, /destPath climbs above/);
    rejects("/a:x/../../b", 7, /destPath climbs above/);
    rejects("..", 8, /srcPath must not contain '\.\.'/);
  });

  it("refuses values of the wrong type (the input comes from JSON)", () => {
    const wrong = (value: unknown) => value as FileMappingInput;
    rejects(wrong(42), 0, /must be a string "src:dest" or an object/);
    rejects(wrong(null), 1, /must be a string/);
    rejects(wrong(["a"]), 2, /must be a string/);
    rejects(wrong({ srcPath: 5 }), 3, /srcPath must be a string/);
    rejects(wrong({ srcPath: "/a", destPath: 5 }), 4, /destPath must be a string/);
  });

  it("checks the list: not empty, at most MAX_FILE_MAPPINGS entries, each entry named", () => {
    assert.deepEqual(parseFileMappings(["/a", { srcPath: "/b", destPath: "c" }]), [
      { srcPath: "/a", destPath: "a" },
      { srcPath: "/b", destPath: "c" },
    ]);
    assert.throws(() => parseFileMappings([]), /fileMappings must not be empty/);
    assert.throws(
      () => parseFileMappings(new Array<string>(MAX_FILE_MAPPINGS + 1).fill("/a")),
      /at most 100000 are allowed/,
    );
    assert.throws(
      () => parseFileMappings(["/a", "/b", ""]),
      /^MappingError: fileMappings\[2\]: srcPath is empty/,
    );
  });
});
