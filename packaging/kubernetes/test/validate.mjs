// Validates `kubectl kustomize` output (read from the files named on the command line) against the
// Kubernetes API schema with the kubernetes-models validators, then checks the settings
// packaging/README.md promises (hardening, probes, volumes, annotations). Exits 1 on any failure.
//
// The validators check types, required fields, enums and formats. They do not reject unknown
// fields (ajv schemas without additionalProperties: false), so a misspelt key passes the schema;
// the explicit checks below cover the settings that matter.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const failures = [];
const fail = (file, msg) => failures.push(`${file}: ${msg}`);

// apiVersion/kind -> the module exporting its model class.
function modulePath(apiVersion, kind) {
  if (apiVersion === "monitoring.coreos.com/v1") {
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

async function validateSchema(file, obj) {
  const where = `${obj.kind}/${obj.metadata?.name}`;
  let Model;
  try {
    Model = (await import(modulePath(obj.apiVersion, obj.kind)))[obj.kind];
  } catch (e) {
    fail(file, `${where}: no model for ${obj.apiVersion} ${obj.kind} (${e.code ?? e.message})`);
    return;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    fail(file, `${where}: ${e.message}`);
  }
}

const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);

function expectEq(file, where, obj, path, want) {
  const got = get(obj, path);
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    fail(file, `${where}: ${path} is ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

function checkDaemonSet(file, ds) {
  const w = "DaemonSet";
  const pod = ds.spec.template.spec;
  const psc = pod.securityContext ?? {};
  expectEq(file, w, psc, "runAsNonRoot", true);
  if (!Number.isInteger(psc.runAsUser) || psc.runAsUser === 0)
    fail(file, `${w}: runAsUser must be a fixed non-zero uid`);
  if (!Number.isInteger(psc.runAsGroup) || psc.runAsGroup === 0)
    fail(file, `${w}: runAsGroup must be a fixed non-zero gid`);
  expectEq(file, w, psc, "seccompProfile.type", "RuntimeDefault");
  for (const gid of [33, 106]) {
    // www-data, postdrop (this machine's gids; see daemonset.yaml)
    if (!(psc.supplementalGroups ?? []).includes(gid))
      fail(file, `${w}: supplementalGroups lacks ${gid}`);
  }
  if (!(pod.tolerations ?? []).some((t) => t.operator === "Exists" && !t.key && !t.effect)) {
    fail(file, `${w}: no toleration {operator: Exists} for every taint`);
  }
  const c = pod.containers.find((x) => x.name === "sre-agent");
  if (!c) return fail(file, `${w}: no container named sre-agent (the Datadog annotation names it)`);
  const w2 = `${w} container sre-agent`;
  expectEq(file, w2, c, "securityContext.readOnlyRootFilesystem", true);
  expectEq(file, w2, c, "securityContext.allowPrivilegeEscalation", false);
  expectEq(file, w2, c, "securityContext.capabilities.drop", ["ALL"]);
  if (c.securityContext?.capabilities?.add?.length) fail(file, `${w2}: adds capabilities`);
  if (c.securityContext?.runAsUser === 0 || c.securityContext?.runAsNonRoot === false)
    fail(file, `${w2}: runs as root`);
  for (const k of ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]) {
    if (get(c.resources, k) === undefined) fail(file, `${w2}: resources.${k} missing`);
  }
  expectEq(file, w2, c, "livenessProbe.httpGet.path", "/-/healthy");
  expectEq(file, w2, c, "readinessProbe.httpGet.path", "/-/ready");
  const port = (c.ports ?? []).find((p) => p.name === "http-metrics");
  if (port?.containerPort !== 8944 || port?.protocol !== "TCP")
    fail(file, `${w2}: no port http-metrics 8944/TCP`);
  expectEq(file, w2, c, "command", [
    "/usr/bin/sre-agent",
    "--config.file=/etc/sre-agent/sre-agent.yaml",
  ]);
  if (c.args?.length)
    fail(file, `${w2}: args ${JSON.stringify(c.args)} would be added to the command`);
  if (!/^[^/]+\.[^/]+\/.+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/.test(c.image)) {
    fail(file, `${w2}: image ${c.image} has no registry and tag (the overlay's images:)`);
  }
  for (const init of pod.initContainers ?? []) {
    if (init.image !== c.image)
      fail(file, `${w}: init container ${init.name} runs ${init.image}, not ${c.image}`);
  }
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
  expectEq(file, w2, env, "NODE_NAME.valueFrom.fieldRef.fieldPath", "spec.nodeName");
  expectEq(file, w2, env, "STATE_DIRECTORY.value", "/var/lib/sre-agent");
  // Volumes: host path, mount path, read-only.
  const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v]));
  const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.mountPath, m]));
  const want = [
    ["/var/lib/sre-agent", "/var/lib/sre-agent", false, "DirectoryOrCreate"],
    ["/var/spool/postfix/public", "/var/spool/postfix/public", true],
    ["/var/log", "/var/log", true],
    ["/run/php", "/run/php", true],
  ];
  for (const [hostPath, mountPath, readOnly, type] of want) {
    const m = mounts[mountPath];
    const v = m && volumes[m.name];
    if (!v?.hostPath || v.hostPath.path !== hostPath) {
      fail(file, `${w2}: ${mountPath} is not hostPath ${hostPath}`);
      continue;
    }
    if (Boolean(m.readOnly) !== readOnly)
      fail(file, `${w2}: ${mountPath} readOnly should be ${readOnly}`);
    if (type && v.hostPath.type !== type) fail(file, `${w2}: ${hostPath} type should be ${type}`);
  }
  const cm = mounts["/etc/sre-agent"] && volumes[mounts["/etc/sre-agent"].name];
  if (!cm?.configMap?.name?.startsWith("sre-agent-config"))
    fail(file, `${w2}: /etc/sre-agent is not the sre-agent-config ConfigMap`);
  // Annotations.
  const a = ds.spec.template.metadata.annotations ?? {};
  for (const [k, v] of [
    ["prometheus.io/scrape", "true"],
    ["prometheus.io/port", "8944"],
    ["prometheus.io/path", "/metrics"],
  ]) {
    if (a[k] !== v)
      fail(file, `${w}: annotation ${k} is ${JSON.stringify(a[k])}, want ${JSON.stringify(v)}`);
  }
  let checks;
  try {
    checks = JSON.parse(a["ad.datadoghq.com/sre-agent.checks"]);
  } catch (e) {
    fail(file, `${w}: ad.datadoghq.com/sre-agent.checks is not JSON: ${e.message}`);
  }
  const inst = checks?.openmetrics?.instances?.[0];
  if (inst?.openmetrics_endpoint !== "http://%%host%%:8944/metrics")
    fail(file, `${w}: the Datadog check does not read http://%%host%%:8944/metrics`);
}

function checkNetworkPolicy(file, np) {
  const eg = np.spec.egress ?? [];
  const dns = eg.find((r) => (r.ports ?? []).some((p) => p.port === 53));
  const protocols = new Set((dns?.ports ?? []).filter((p) => p.port === 53).map((p) => p.protocol));
  if (!protocols.has("UDP") || !protocols.has("TCP"))
    fail(file, "NetworkPolicy: no DNS egress on 53 UDP and TCP");
  if (!(dns?.to ?? []).some((t) => t.podSelector?.matchLabels?.["k8s-app"] === "kube-dns"))
    fail(file, "NetworkPolicy: DNS egress is not to kube-dns");
  if (
    !eg.some((r) =>
      (r.to ?? []).some(
        (t) => t.podSelector?.matchLabels?.["app.kubernetes.io/name"] === "alertmanager",
      ),
    )
  ) {
    fail(file, "NetworkPolicy: no egress to Alertmanager");
  }
  if (!eg.some((r) => (r.to ?? []).some((t) => t.ipBlock?.cidr)))
    fail(file, "NetworkPolicy: no CIDR egress (the overlay's patch)");
  if (eg.some((r) => !r.to || r.to.length === 0))
    fail(file, "NetworkPolicy: an egress rule without `to` allows every destination");
}

function checkRbac(file, role) {
  const rules = role.rules ?? [];
  const ok =
    rules.length === 1 &&
    JSON.stringify(rules[0].apiGroups) === '[""]' &&
    JSON.stringify(rules[0].resources) === '["pods"]' &&
    JSON.stringify([...rules[0].verbs].sort()) === '["get","list","watch"]';
  if (!ok)
    fail(file, `ClusterRole: rules ${JSON.stringify(rules)} are more than get/list/watch pods`);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs RENDERED.yaml...");
  process.exit(2);
}
for (const file of files) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  const kinds = new Map();
  for (const doc of docs) {
    if (doc.errors.length) {
      fail(file, `YAML: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (!obj) continue;
    kinds.set(obj.kind, obj);
    await validateSchema(file, obj);
  }
  for (const kind of [
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "DaemonSet",
    "Service",
    "PodMonitor",
    "NetworkPolicy",
  ]) {
    if (!kinds.has(kind)) fail(file, `no ${kind}`);
  }
  if (kinds.has("DaemonSet")) checkDaemonSet(file, kinds.get("DaemonSet"));
  if (kinds.has("NetworkPolicy")) checkNetworkPolicy(file, kinds.get("NetworkPolicy"));
  if (kinds.has("ClusterRole")) checkRbac(file, kinds.get("ClusterRole"));
  if (kinds.has("Service") && kinds.get("Service").spec.clusterIP !== "None")
    fail(file, "Service: not headless (clusterIP: None)");
  console.log(`${file}: ${docs.length} objects checked`);
}
for (const f of failures) console.error(`FAIL ${f}`);
process.exit(failures.length ? 1 : 0);
