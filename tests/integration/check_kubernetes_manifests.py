#!/usr/bin/python3
"""Checks offline what deploy/kubernetes must get right for raftkv to form a
cluster, beyond YAML syntax (yamllint) and structure (kubectl kustomize):
the pieces must agree with each other and with raftkvd's DNS discovery.

Usage: check_kubernetes_manifests.py DIR. Prints each check; exits 1 with
the failures listed if any fails.
"""
import pathlib
import sys

import yaml

failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        failures.append(what)


def main(directory):
    documents = []
    for path in sorted(pathlib.Path(directory).glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    by_kind = {}
    for document in documents:
        by_kind.setdefault(document.get("kind"), []).append(document)

    kustomization = by_kind["Kustomization"][0]
    listed = set(kustomization["resources"])
    present = {p.name for p in pathlib.Path(directory).glob("*.yaml")} - {"kustomization.yaml"}
    check(listed == present, f"kustomization lists every manifest ({sorted(present)})")

    statefulset = by_kind["StatefulSet"][0]
    spec = statefulset["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    arguments = dict(a[2:].split("=", 1) for a in container["args"])
    pod_labels = spec["template"]["metadata"]["labels"]

    services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
    headless = services.get(spec["serviceName"])
    check(headless is not None, f"the StatefulSet's serviceName {spec['serviceName']!r} is a Service here")
    check(headless["spec"].get("clusterIP") == "None", "that Service is headless (clusterIP: None)")
    check(headless["spec"].get("publishNotReadyAddresses") is True,
          "it publishes members before they are ready (no leader exists until they find each other)")
    port_names = {p["name"] for p in headless["spec"]["ports"]}
    check({"raftkv-peer", "raftkv-client"} <= port_names,
          "its ports are named raftkv-peer and raftkv-client (the SRV names raftkvd looks up)")

    for name, service in services.items():
        selector = service["spec"]["selector"]
        check(all(pod_labels.get(k) == v for k, v in selector.items()), f"Service {name} selects the pods")

    check(spec["replicas"] == 5, "five replicas")
    check(arguments.get("cluster-size") == str(spec["replicas"]), "--cluster-size matches the replicas")
    check(spec.get("podManagementPolicy") == "Parallel",
          "pods start in parallel (OrderedReady would wait for a readiness that needs three members)")
    expected_domain = f"{spec['serviceName']}.$(POD_NAMESPACE).svc.cluster.local"
    check(arguments.get("discovery-srv") == expected_domain, f"--discovery-srv is {expected_domain}")
    check("id" not in arguments and "name" not in arguments,
          "no --id or --name: each member's id comes from its host name (raftkv-N is member N+1)")
    check("cluster-token" in arguments or "cluster-id" in arguments, "a cluster token or id is given")

    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for flag, port_name in (("listen-peer", "raftkv-peer"), ("listen-client", "raftkv-client")):
        port = int(arguments[flag].rsplit(":", 1)[1])
        check(container_ports.get(port_name) == port, f"--{flag} listens on the {port_name} container port")
        service_port = next(p for p in headless["spec"]["ports"] if p["name"] == port_name)
        check(service_port["targetPort"] in (port_name, port), f"the Service's {port_name} reaches it")

    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claims = {c["metadata"]["name"] for c in spec["volumeClaimTemplates"]}
    check(arguments.get("data-dir") in mounts.values(), "--data-dir is a mounted volume")
    check(set(mounts) <= claims, "the data volume comes from a volumeClaimTemplate (it outlives the pod)")

    readiness = container["readinessProbe"].get("grpc", {})
    liveness = container["livenessProbe"].get("grpc", {})
    check(readiness.get("service", "") == "", "readiness asks grpc.health.v1 about the member (a leader is known)")
    check(liveness.get("service") == "raftkv.api.Admin", "liveness does not need a leader (a cut-off member is alive)")
    client_port = container_ports["raftkv-client"]
    for probe in (readiness, liveness):
        check(probe.get("port") == client_port, "a probe asks this member's client port")

    security = container["securityContext"]
    check(security.get("allowPrivilegeEscalation") is False and security.get("readOnlyRootFilesystem") is True
          and security.get("capabilities", {}).get("drop") == ["ALL"], "the container is locked down")
    check(pod["securityContext"].get("runAsNonRoot") is True, "the pod runs as non-root")
    check(pod.get("terminationGracePeriodSeconds", 30) >= 10, "a leader has time to hand over on SIGTERM")

    budget = by_kind["PodDisruptionBudget"][0]["spec"]
    check(all(pod_labels.get(k) == v for k, v in budget["selector"]["matchLabels"].items()),
          "the PodDisruptionBudget selects the pods")
    check(budget.get("maxUnavailable") == 1, "voluntary disruptions take one member at a time")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
