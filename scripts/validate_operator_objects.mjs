// Validates ServiceMonitor and PrometheusRule objects against the Prometheus
// Operator's schemas, as compiled in the npm package
// @kubernetes-models/prometheus-operator (installed by scripts/install-tools.sh).
//
//   node scripts/validate_operator_objects.mjs <node_modules dir> <objects.json>
//
// objects.json: a JSON list of objects. Prints one line per object; exits 1
// when one does not validate (or is of another kind).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, file] = process.argv.slice(2);
if (!modules || !file) {
  console.error("usage: validate_operator_objects.mjs <node_modules dir> <objects.json>");
  process.exit(2);
}
const models = await import(
  pathToFileURL(join(modules, "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/index.js")).href
);
let failed = 0;
for (const object of JSON.parse(readFileSync(file, "utf8"))) {
  const name = `${object.kind}/${object.metadata?.name}`;
  const Model = models[object.kind];
  if (object.apiVersion !== "monitoring.coreos.com/v1" || !Model) {
    console.log(`${name}: not a monitoring.coreos.com/v1 kind this checks`);
    failed++;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`${name}: valid`);
  } catch (e) {
    console.log(`${name}: ${e.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
