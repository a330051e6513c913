// services/worker/jobs/csv-parse.ts: RFC 4180 quoting, line endings, embedded newlines.
import { expect } from "chai";
import { parseCsv } from "../../services/worker/jobs/csv-parse.ts";

describe("unit: parseCsv", () => {
  it("splits plain rows and fields", () => {
    expect(parseCsv("a,b,c\n1,2,3\n", ",")).to.deep.equal([
      ["a", "b", "c"],
      ["1", "2", "3"],
    ]);
  });

  it("keeps the last row without a trailing newline, and adds no row for a trailing newline", () => {
    expect(parseCsv("a,b\n1,2", ",")).to.deep.equal([
      ["a", "b"],
      ["1", "2"],
    ]);
    expect(parseCsv("a,b\n", ",")).to.deep.equal([["a", "b"]]);
    expect(parseCsv("", ",")).to.deep.equal([]);
  });

  it("keeps empty fields, at the start, middle and end of a row", () => {
    expect(parseCsv(",x,,\n", ",")).to.deep.equal([["", "x", "", ""]]);
    expect(parseCsv("a,", ",")).to.deep.equal([["a", ""]]);
  });

  it("treats CRLF, LF and lone CR as one line break each", () => {
    expect(parseCsv("a,b\r\n1,2\r\n3,4\n5,6\r7,8", ",")).to.deep.equal([
      ["a", "b"],
      ["1", "2"],
      ["3", "4"],
      ["5", "6"],
      ["7", "8"],
    ]);
  });

  it("keeps an empty line as a row of one empty field", () => {
    expect(parseCsv("a\n\nb\n", ",")).to.deep.equal([["a"], [""], ["b"]]);
  });

  it("quoted fields hold delimiters, doubled quotes and embedded newlines (LF and CRLF)", () => {
    const text = 'name,note\r\n"Smith, J","said ""hi"""\r\n"two\nlines","crlf\r\ninside"\r\nlast,"x"';
    expect(parseCsv(text, ",")).to.deep.equal([
      ["name", "note"],
      ["Smith, J", 'said "hi"'],
      ["two\nlines", "crlf\r\ninside"],
      ["last", "x"],
    ]);
  });

  it("a quoted empty field is an empty field", () => {
    expect(parseCsv('"",a,""\n', ",")).to.deep.equal([["", "a", ""]]);
    expect(parseCsv('x\n""', ","), "a last row that is one quoted empty field").to.deep.equal([["x"], [""]]);
  });

  it("a quote inside an unquoted field is an ordinary character", () => {
    expect(parseCsv('5" disk,ok\n', ",")).to.deep.equal([['5" disk', "ok"]]);
  });

  it("honours the other delimiters", () => {
    expect(parseCsv('a;"b;c"\n', ";")).to.deep.equal([["a", "b;c"]]);
    expect(parseCsv("a\tb,c\n", "\t")).to.deep.equal([["a", "b,c"]]);
    expect(parseCsv("a|b\n", "|")).to.deep.equal([["a", "b"]]);
  });
});
