import { KubeObject } from '../../harness/kube-object';

/**
 * Checks of pod templates against Pod Security Standards "restricted" plus this project's own rules
 * (read-only root filesystem, writable mounts only from emptyDir/PVC, requests and limits everywhere,
 * no service account token unless the workload calls the API server).
 */

export interface PodTemplate {
  /** `Kind/namespace/name` of the owning object. */
  where: string;
  namespace: string;
  labels: Record<string, string>;
  spec: any;
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController']);

/** Every pod template in the objects: workloads, CronJobs and bare Pods. */
export function podTemplates(objects: KubeObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    const where = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const namespace = o.metadata.namespace ?? 'default';
    if (WORKLOADS.has(o.kind)) out.push({ where, namespace, labels: o.spec.template.metadata?.labels ?? {}, spec: o.spec.template.spec });
    else if (o.kind === 'CronJob') out.push({ where, namespace, labels: o.spec.jobTemplate.spec.template.metadata?.labels ?? {}, spec: o.spec.jobTemplate.spec.template.spec });
    else if (o.kind === 'Pod') out.push({ where, namespace, labels: o.metadata.labels ?? {}, spec: o.spec });
  }
  return out;
}

/** Volume types Pod Security "restricted" admits. */
const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
const WRITABLE_VOLUMES = new Set(['emptyDir', 'persistentVolumeClaim', 'ephemeral']);
const SECCOMP_OK = new Set(['RuntimeDefault', 'Localhost']);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

function volumeType(volume: any): string {
  return Object.keys(volume).find(k => k !== 'name') ?? 'unknown';
}

export interface PodCheckOptions {
  /** May this pod mount a service account token (it calls the Kubernetes API)? */
  readonly needsApiToken: boolean;
  /** ServiceAccounts among the synthesized objects, by `namespace/name`. */
  readonly serviceAccounts?: Map<string, KubeObject>;
}

/** All violations of one pod template; empty when it passes. */
export function podViolations(pod: PodTemplate, opts: PodCheckOptions): string[] {
  const v: string[] = [];
  const spec = pod.spec;
  const psc = spec.securityContext ?? {};
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec[field] === true) v.push(`${field} is true`);
  if (psc.sysctls?.length) v.push('pod sets sysctls');
  if (psc.windowsOptions?.hostProcess) v.push('pod is a Windows host process');
  if (psc.seLinuxOptions?.type !== undefined && !SELINUX_TYPES.has(psc.seLinuxOptions.type)) v.push(`pod SELinux type ${psc.seLinuxOptions.type}`);

  const volumes = new Map<string, string>();
  for (const vol of spec.volumes ?? []) {
    const type = volumeType(vol);
    volumes.set(vol.name, type);
    if (!RESTRICTED_VOLUMES.has(type)) v.push(`volume ${vol.name} is a ${type}`);
  }

  const containers = [
    ...(spec.initContainers ?? []).map((c: any) => ({ c, kind: 'init container' })),
    ...(spec.containers ?? []).map((c: any) => ({ c, kind: 'container' })),
    ...(spec.ephemeralContainers ?? []).map((c: any) => ({ c, kind: 'ephemeral container' })),
  ];
  if (containers.length === 0) v.push('no containers');
  for (const { c, kind } of containers) {
    const at = `${kind} ${c.name}`;
    const sc = c.securityContext ?? {};
    if (sc.privileged === true) v.push(`${at}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) v.push(`${at}: allowPrivilegeEscalation is not false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) v.push(`${at}: capabilities do not drop ALL`);
    if ((sc.capabilities?.add ?? []).length > 0) v.push(`${at}: adds capabilities ${sc.capabilities.add.join(',')}`);
    if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) v.push(`${at}: runAsNonRoot is not true`);
    if ((sc.runAsUser ?? psc.runAsUser) === 0) v.push(`${at}: runs as uid 0`);
    const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
    if (!SECCOMP_OK.has(seccomp)) v.push(`${at}: seccompProfile is ${seccomp ?? 'unset'}, not RuntimeDefault`);
    if (sc.seLinuxOptions?.type !== undefined && !SELINUX_TYPES.has(sc.seLinuxOptions.type)) v.push(`${at}: SELinux type ${sc.seLinuxOptions.type}`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') v.push(`${at}: procMount ${sc.procMount}`);
    if (sc.windowsOptions?.hostProcess) v.push(`${at}: Windows host process`);
    if (sc.readOnlyRootFilesystem !== true) v.push(`${at}: root filesystem is writable`);
    for (const p of c.ports ?? []) if (p.hostPort !== undefined && p.hostPort !== 0) v.push(`${at}: hostPort ${p.hostPort}`);
    for (const m of c.volumeMounts ?? []) {
      const type = volumes.get(m.name);
      if (type === undefined) v.push(`${at}: mount ${m.mountPath} names no volume`);
      else if (m.readOnly !== true && !WRITABLE_VOLUMES.has(type)) v.push(`${at}: ${type} mount ${m.mountPath} is writable`);
    }
    for (const side of ['requests', 'limits']) {
      for (const resource of ['cpu', 'memory']) {
        if (c.resources?.[side]?.[resource] === undefined) v.push(`${at}: no ${resource} ${side.replace(/s$/, '')}`);
      }
    }
  }

  const sa = spec.serviceAccountName ? opts.serviceAccounts?.get(`${pod.namespace}/${spec.serviceAccountName}`) : undefined;
  const token = spec.automountServiceAccountToken ?? sa?.automountServiceAccountToken ?? true;
  if (token && !opts.needsApiToken) v.push('a service account token is mounted but the pod does not call the API server');
  if (!token && opts.needsApiToken) v.push('the pod calls the API server but has no service account token');
  return v;
}
