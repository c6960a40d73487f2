import { KubeObject } from '../../harness/kube-object';

/**
 * What Kubernetes pod discovery (role=pod) would produce for a synthesized Deployment's pods after
 * Istio sidecar injection: one target per container port, port-free targets for containers without
 * ports, with the `__meta_kubernetes_pod_*` labels. Used with file_sd_configs, because Debian's
 * Prometheus is built without kubernetes_sd_configs.
 */
export interface SdTarget { targets: string[]; labels: Record<string, string> }

export interface PodInstance {
  name: string;
  ip: string;
  phase?: 'Running' | 'Pending' | 'Succeeded' | 'Failed';
}

/** Istio's sidecar-injector additions (istio/istio pkg/kube/inject, injection template). */
export const ISTIO_PROXY_PORTS = [{ name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' }];

function sanitize(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** A crawler Deployment as VendorCrawler renders it, reduced to what discovery reads. */
export function crawlerDeployment(name: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'crawlers' },
    spec: { template: { metadata: { labels }, spec: { containers: [{ name: 'crawler', image: 'node:20', ports: [{ name: 'http-metrics', containerPort: 9102 }] }] } } },
  };
}

/** `istioProxyPort` replaces 15090 so that a local simulator on a free port can stand in for the sidecar. */
export function injectedPodTargets(deployment: KubeObject, pod: PodInstance, istioProxyPort = 15090): SdTarget[] {
  return podTargets(deployment, pod, { istioProxyPort });
}

/** The same for a pod outside the mesh (no sidecar), e.g. a demo gateway; `portOverrides` by port name (simulators). */
export function plainPodTargets(deployment: KubeObject, pod: PodInstance, portOverrides: Record<string, number> = {}): SdTarget[] {
  return podTargets(deployment, pod, { portOverrides });
}

function podTargets(deployment: KubeObject, pod: PodInstance, opts: { istioProxyPort?: number; portOverrides?: Record<string, number> }): SdTarget[] {
  const injected = opts.istioProxyPort !== undefined;
  const template = deployment.spec.template;
  const podLabels: Record<string, string> = !injected ? { ...template.metadata?.labels, 'pod-template-hash': '7d9c6b5f4' } : {
    ...template.metadata?.labels,
    'security.istio.io/tlsMode': 'istio',
    'service.istio.io/canonical-name': template.metadata?.labels?.['app.kubernetes.io/name'] ?? deployment.metadata.name,
    'service.istio.io/canonical-revision': 'latest',
    'pod-template-hash': '7d9c6b5f4',
  };
  const podAnnotations: Record<string, string> = !injected ? { ...template.metadata?.annotations } : {
    ...template.metadata?.annotations,
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '15020',
    'prometheus.io/path': '/stats/prometheus',
    'kubectl.kubernetes.io/default-container': template.spec.containers[0].name,
    'istio.io/rev': 'default',
    'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"revision":"default"}',
  };
  const common: Record<string, string> = {
    __meta_kubernetes_namespace: deployment.metadata.namespace ?? 'default',
    __meta_kubernetes_pod_name: pod.name,
    __meta_kubernetes_pod_ip: pod.ip,
    __meta_kubernetes_pod_ready: pod.phase === 'Running' || pod.phase === undefined ? 'true' : 'false',
    __meta_kubernetes_pod_phase: pod.phase ?? 'Running',
    __meta_kubernetes_pod_node_name: 'node-1',
    __meta_kubernetes_pod_host_ip: '10.0.0.1',
    __meta_kubernetes_pod_uid: `uid-${pod.name}`,
    __meta_kubernetes_pod_controller_kind: 'ReplicaSet',
    __meta_kubernetes_pod_controller_name: `${deployment.metadata.name}-7d9c6b5f4`,
  };
  for (const [k, v] of Object.entries(podLabels)) {
    common[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
    common[`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`] = 'true';
  }
  for (const [k, v] of Object.entries(podAnnotations)) {
    common[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = v;
    common[`__meta_kubernetes_pod_annotationpresent_${sanitize(k)}`] = 'true';
  }

  const containers: Array<{ name: string; image: string; init: boolean; ports: any[] }> = [
    ...template.spec.containers.map((c: any) => ({
      name: c.name, image: c.image, init: false,
      ports: (c.ports ?? []).map((p: any) => ({ ...p, containerPort: opts.portOverrides?.[p.name] ?? p.containerPort })),
    })),
    ...(!injected ? [] : [
      { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.2', init: false, ports: ISTIO_PROXY_PORTS.map(p => ({ ...p, containerPort: opts.istioProxyPort })) },
      { name: 'istio-init', image: 'docker.io/istio/proxyv2:1.24.2', init: true, ports: [] },
    ]),
  ];
  const targets: SdTarget[] = [];
  for (const c of containers) {
    const base = {
      ...common,
      __meta_kubernetes_pod_container_name: c.name,
      __meta_kubernetes_pod_container_image: c.image,
      __meta_kubernetes_pod_container_init: String(c.init),
      __meta_kubernetes_pod_container_id: `containerd://${pod.name}-${c.name}`,
    };
    if (c.ports.length === 0) {
      targets.push({ targets: [pod.ip], labels: base });
    }
    for (const p of c.ports) {
      targets.push({
        targets: [`${pod.ip}:${p.containerPort}`],
        labels: {
          ...base,
          __meta_kubernetes_pod_container_port_name: p.name ?? '',
          __meta_kubernetes_pod_container_port_number: String(p.containerPort),
          __meta_kubernetes_pod_container_port_protocol: p.protocol ?? 'TCP',
        },
      });
    }
  }
  return targets;
}

/** Replaces every kubernetes_sd_configs block of a Prometheus config by a file_sd_configs block. */
export function withFileSd(config: any, files: string[]): any {
  const copy = JSON.parse(JSON.stringify(config));
  for (const job of copy.scrape_configs ?? []) {
    if (job.kubernetes_sd_configs) {
      delete job.kubernetes_sd_configs;
      job.file_sd_configs = [{ files, refresh_interval: '5s' }];
    }
  }
  return copy;
}
