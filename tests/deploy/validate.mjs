// Validates rendered Kubernetes manifests offline (kubectl kustomize output, one or more YAML
// streams): every object against its schema in the npm packages kubernetes-models and
// @kubernetes-models/prometheus-operator (types, enums, required fields, formats), plus a strict
// pass the schemas lack: a field the API does not define (a typo such as `readinessProbes`, or
// a field of a newer Kubernetes) is an error, as `kubectl apply --validate=strict` would say.
//
//   node validate.mjs RENDERED.yaml...      exit 0 = valid, 1 = problems (printed), 2 = usage
//   node validate.mjs --self-test           proves that bad objects are refused
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

const here = path.dirname(new URL(import.meta.url).pathname);

// apiVersion → the module of its models. Anything else is refused: an object this test cannot
// check must not slip through.
function moduleOf(apiVersion) {
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  }
  return `kubernetes-models/${apiVersion}`;  // "v1" → kubernetes-models/v1, "apps/v1" → …/apps/v1
}

async function modelClass(apiVersion, kind) {
  let mod;
  try {
    mod = await import(moduleOf(apiVersion));
  } catch {
    return null;
  }
  return mod[kind] ?? null;
}

// ---- strict field check from the packages' TypeScript declarations ------------------------
// Each model's .d.ts declares `export interface IName extends … { "field"?: Type; … }` with the
// referenced types imported from sibling files; that is the API's field list.

const shapes = new Map();  // file → { fields: Map(name → type text), extends: [type text], imports }

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

// The body of the interface starting at `open` (index of its "{"), braces balanced.
function bracedBody(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error("unbalanced braces");
}

// Splits `"a"?: T; "b": { [key: string]: U; };` into [name, type] at depth 0.
function properties(body) {
  const out = new Map();
  let i = 0;
  while (i < body.length) {
    const m = /"([^"]+)"\??\s*:\s*/y;
    m.lastIndex = i;
    const head = m.exec(body);
    if (!head) {
      i++;
      continue;
    }
    let j = m.lastIndex;
    let depth = 0;
    for (; j < body.length; j++) {
      const c = body[j];
      if (c === "{" || c === "<" || c === "(" || c === "[") depth++;
      else if (c === "}" || c === ">" || c === ")" || c === "]") depth--;
      else if (c === ";" && depth === 0) break;
    }
    out.set(head[1], body.slice(m.lastIndex, j).trim());
    i = j + 1;
  }
  return out;
}

function loadShape(file) {
  if (shapes.has(file)) return shapes.get(file);
  const text = stripComments(fs.readFileSync(file, "utf8"));
  const imports = new Map();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      imports.set(name, m[2]);
    }
  }
  const iface = /export interface (\w+)(?:\s+extends\s+([^{]+))?\s*\{/.exec(text);
  const shape = { file, imports, fields: null, extends: [] };
  if (iface) {
    shape.fields = properties(bracedBody(text, iface.index + iface[0].length - 1));
    shape.extends = (iface[2] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  }
  shapes.set(file, shape);
  return shape;
}

// A package path ("@scope/pkg/sub/path", "pkg/sub") as a file under node_modules (the packages'
// "exports" maps do not list their .d.ts files, so they are read from disk).
function packageFile(spec) {
  return path.join(here, "node_modules", spec);
}

function resolveImport(fromFile, spec) {
  const target = spec.startsWith(".") ? path.resolve(path.dirname(fromFile), spec) : packageFile(spec);
  return target.replace(/\.js$/, "") + ".d.ts";
}

// Type text → { kind: "object", shape } | { kind: "array", of } | { kind: "map", of } | leaf.
function typeOf(shape, text) {
  text = text.trim();
  let m;
  if ((m = /^Array<([\s\S]*)>$/.exec(text))) return { kind: "array", of: typeOf(shape, m[1]) };
  if ((m = /^\{\s*\[key: string\]:\s*([\s\S]*?);?\s*\}$/.exec(text))) {
    return { kind: "map", of: typeOf(shape, m[1]) };
  }
  if (/^\w+$/.test(text) && shape.imports.has(text)) {
    const target = loadShape(resolveImport(shape.file, shape.imports.get(text)));
    return target.fields ? { kind: "object", shape: target } : { kind: "leaf" };
  }
  return { kind: "leaf" };  // string, number, boolean, unions of literals, IntOrString, Quantity
}

function allFields(shape) {
  const fields = new Map(shape.fields);
  for (const base of shape.extends) {
    if (base === "TypeMeta") continue;  // apiVersion and kind: every model declares them itself
    const t = typeOf(shape, base);
    if (t.kind === "object") for (const [k, v] of allFields(t.shape)) fields.set(k, v);
  }
  return fields;
}

function strict(value, type, where, problems) {
  if (value === null || value === undefined) return;
  if (type.kind === "array") {
    if (Array.isArray(value)) value.forEach((v, i) => strict(v, type.of, `${where}[${i}]`, problems));
  } else if (type.kind === "map") {
    if (typeof value === "object") {
      for (const [k, v] of Object.entries(value)) strict(v, type.of, `${where}.${k}`, problems);
    }
  } else if (type.kind === "object" && typeof value === "object" && !Array.isArray(value)) {
    const fields = allFields(type.shape);
    for (const [k, v] of Object.entries(value)) {
      if (!fields.has(k)) {
        problems.push(`${where}.${k}: unknown field`);
      } else {
        strict(v, typeOf(type.shape, fields.get(k)), `${where}.${k}`, problems);
      }
    }
  }
}

function modelDeclaration(apiVersion, kind) {
  return path.join(packageFile(moduleOf(apiVersion)), `${kind}.d.ts`);
}

// ---- one object, one file ---------------------------------------------------------------------

export async function validateObject(obj) {
  const problems = [];
  if (!obj || typeof obj !== "object" || !obj.apiVersion || !obj.kind) {
    return ["not a Kubernetes object (apiVersion and kind are required)"];
  }
  const Model = await modelClass(obj.apiVersion, obj.kind);
  if (!Model) return [`${obj.apiVersion} ${obj.kind}: no schema for this kind (unsupported)`];
  try {
    new Model(obj).validate();
  } catch (e) {
    problems.push(`schema: ${e.message}`);
  }
  const decl = loadShape(modelDeclaration(obj.apiVersion, obj.kind));
  strict(obj, { kind: "object", shape: decl }, "", problems);
  if (!obj.metadata?.name) problems.push("metadata.name is required");
  return problems;
}

async function validateFile(file) {
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"));
  let failed = 0;
  let count = 0;
  for (const doc of docs) {
    if (doc.errors.length) {
      console.log(`${file}: YAML error: ${doc.errors[0].message}`);
      failed++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    count++;
    const name = `${obj?.kind ?? "?"}/${obj?.metadata?.name ?? "?"}`;
    const problems = await validateObject(obj);
    if (problems.length) {
      failed++;
      for (const p of problems) console.log(`${file}: ${name}: ${p}`);
    }
  }
  if (count === 0) {
    console.log(`${file}: no objects`);
    failed++;
  }
  console.log(`${file}: ${count} objects, ${failed ? `${failed} invalid` : "all valid"}`);
  return failed === 0;
}

async function selfTest() {
  const good = {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" },
    spec: {
      selector: { matchLabels: { a: "b" } },
      template: {
        metadata: { labels: { a: "b" } },
        spec: {
          initContainers: [{ name: "s", image: "i", restartPolicy: "Always" }],
          containers: [{ name: "c", image: "i", readinessProbe: { httpGet: { path: "/", port: "p" } } }],
        },
      },
    },
  };
  const cases = [
    ["a valid Deployment", good, 0],
    ["replicas: \"two\"", { ...good, spec: { ...good.spec, replicas: "two" } }, 1],
    ["a misspelt field", JSON.parse(JSON.stringify(good).replace("readinessProbe", "readinessProbes")), 1],
    ["an unknown field in a map value", JSON.parse(JSON.stringify(good).replace('"path"', '"pathh"')), 1],
    ["an unknown kind", { apiVersion: "v1", kind: "Potato", metadata: { name: "x" } }, 1],
    ["a ServiceMonitor without endpoints",
      { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "x" },
        spec: { selector: {} } }, 1],
    ["a PrometheusRule with a bad field",
      { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: "x" },
        spec: { groups: [{ name: "g", rules: [{ alert: "A", expr: "up", fore: "5m" }] }] } }, 1],
  ];
  let ok = true;
  for (const [what, obj, bad] of cases) {
    const problems = await validateObject(obj);
    if ((problems.length > 0) !== (bad === 1)) {
      ok = false;
      console.log(`self-test FAILED: ${what}: ${problems.length ? problems.join("; ") : "accepted"}`);
    }
  }
  console.log(ok ? "self-test passed" : "self-test failed");
  return ok;
}

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error("usage: node validate.mjs RENDERED.yaml... | --self-test");
  process.exit(2);
}
let ok = true;
if (args[0] === "--self-test") {
  ok = await selfTest();
} else {
  for (const f of args) ok = (await validateFile(f)) && ok;
}
process.exit(ok ? 0 : 1);
