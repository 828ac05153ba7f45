// Independent check of the vectors in core/testdata with JavaScript's own
// JSON and Number semantics, which RFC 8785 is defined by: the expected
// outputs written by the Go generator must agree with what a JavaScript
// implementation computes from the same inputs.
//
//   node internal/genvectors/jscheck.mjs core/testdata
//
// It prints one line per disagreement and exits 1 if there is any.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";

const dir = process.argv[2] ?? "core/testdata";
const load = (name) => JSON.parse(readFileSync(join(dir, name), "utf8"));
let failures = 0;
let checks = 0;
const fail = (file, name, msg) => {
  failures++;
  console.log(`${file}: ${name}: ${msg}`);
};

// RFC 8785 in JavaScript: sort names by UTF-16 code units (the default
// string order), and let JSON.stringify write strings and numbers.
function canonicalize(v) {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(canonicalize).join(",") + "]";
  return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonicalize(v[k])).join(",") + "}";
}

for (const c of load("jcs.json").cases) {
  if (c.canonical === undefined || c.input === undefined) continue;
  checks++;
  const got = canonicalize(JSON.parse(c.input));
  if (got !== c.canonical) fail("jcs.json", c.name, `JavaScript gives ${got}, vector says ${c.canonical}`);
}

const leafHash = (canonical) =>
  createHash("sha256").update(Buffer.concat([Buffer.from([0]), Buffer.from(canonical, "utf8")])).digest("hex");

for (const c of load("canonical.json").cases) {
  checks++;
  const canon = JSON.parse(c.canonical);
  if (canonicalize(canon) !== c.canonical) fail("canonical.json", c.name, "canonical is not canonical");
  if (leafHash(c.canonical) !== c.leaf_hash) fail("canonical.json", c.name, `leaf hash ${leafHash(c.canonical)} != ${c.leaf_hash}`);
  const api = JSON.parse(c.api_json);
  const order = ["seq", "id", "event_type", "ts", "hlc", "tenant_id", "entity_uri", "emitter", "oidc_sub", "fact_id",
    "source", "attested_key_id", "scope", "outcome", "detail", "leaf_hash"];
  if (Object.keys(api).join() !== order.join()) fail("canonical.json", c.name, "api_json fields not in docs/event-format.md#fields order");
  if (api.leaf_hash !== c.leaf_hash || api.seq !== null) fail("canonical.json", c.name, "api_json seq/leaf_hash");
  // The API form is the canonical form with nulls written out.
  const fromApi = {};
  for (const [k, v] of Object.entries(api)) if (v !== null && k !== "seq" && k !== "leaf_hash") fromApi[k] = v;
  if (canonicalize(fromApi) !== c.canonical) fail("canonical.json", c.name, "api_json and canonical disagree");
  // Instruction events carry the request's fact in detail (docs/event-format.md#instruction-events).
  const req = JSON.parse(c.request);
  if (req.fact) {
    const merged = { fact_entity: req.fact.entity ?? null, fact_relation: req.fact.relation ?? null,
      fact_interpret_as: req.fact.interpret_as ?? null, ...(req.detail ?? {}) };
    if (canonicalize(merged) !== canonicalize(canon.detail)) fail("canonical.json", c.name, "detail is not the merge of fact and detail");
    if (canon.source !== (req.source || req.entity_uri)) fail("canonical.json", c.name, "source does not default to the actor");
  }
}

const isInstructionFact = (entity, relation, interpretAs) =>
  interpretAs === "instruction" ||
  (typeof entity === "string" && entity.startsWith("instruction:")) ||
  (typeof relation === "string" && relation.startsWith("instruction:"));

for (const c of load("classify.json").cases) {
  checks++;
  const valid = c.interpret_as === null || ["content", "instruction", "code"].includes(c.interpret_as);
  if (!valid) {
    if (c.error !== "invalid_interpret_as") fail("classify.json", c.name, "expected invalid_interpret_as");
    continue;
  }
  const want = isInstructionFact(c.entity, c.relation, c.interpret_as);
  if (c.instruction !== want) fail("classify.json", c.name, `JavaScript says ${want}`);
}

for (const c of load("merge.json").cases) {
  if (c.merged === undefined) continue;
  checks++;
  const detail = c.detail === null ? null : JSON.parse(c.detail);
  const merged = { fact_entity: c.fact.entity, fact_relation: c.fact.relation, fact_interpret_as: c.fact.interpret_as, ...(detail ?? {}) };
  if (canonicalize(merged) !== c.merged) fail("merge.json", c.name, `JavaScript gives ${canonicalize(merged)}`);
}

// Exact numbers (docs/event-format.md#numbers), decided with BigInt arithmetic on the texts: a
// literal is exact when the decimal value of what JavaScript writes for the
// double nearest it (Number, then JSON.stringify — RFC 8785's number form)
// equals the literal's own decimal value.
function decimalValue(text) {
  // [sign, digits as BigInt, power of ten] with no trailing zeros in digits.
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return null;
  let digits = BigInt(m[2] + (m[3] ?? ""));
  let exp = BigInt(m[4] ?? "0") - BigInt((m[3] ?? "").length);
  if (digits === 0n) return "0";
  while (digits % 10n === 0n) { digits /= 10n; exp++; }
  return `${m[1]}${digits}e${exp}`;
}

for (const c of load("numbers.json").cases) {
  checks++;
  const canon = JSON.stringify(Number(c.literal)); // "null" beyond the double range
  const exact = decimalValue(canon) !== null && decimalValue(canon) === decimalValue(c.literal);
  if (exact !== c.exact) fail("numbers.json", c.literal, `JavaScript says exact=${exact} (${canon})`);
  if (exact && c.detail !== `{"n":${canon}}`) fail("numbers.json", c.literal, `JavaScript writes ${canon}, vector says ${c.detail}`);
  if (!exact && c.error !== "inexact_number") fail("numbers.json", c.literal, "expected inexact_number");
  if (JSON.parse(c.request).detail === undefined) fail("numbers.json", c.literal, "request without detail");
}

console.log(`jscheck: ${checks} cases checked, ${failures} disagreements`);
process.exit(failures ? 1 : 0);
