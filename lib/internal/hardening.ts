import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

/** Container security context that meets Pod Security "restricted". */
export function restrictedContainerSecurity(uid: number): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: uid,
    group: uid,
    privileged: false,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    // cdk8s-plus-27's Capability enum has no ALL, which "restricted" requires.
    capabilities: { drop: ['ALL' as kplus.Capability] },
  };
}

/**
 * cdk8s-plus-27 has no pod-level seccompProfile; "restricted" requires RuntimeDefault (or Localhost).
 * `podSpecPath` is the JSON pointer of the pod spec inside the object.
 */
export function addRuntimeDefaultSeccomp(workload: kplus.AbstractPod | kplus.Workload, podSpecPath = '/spec/template/spec'): void {
  ApiObject.of(workload).addJsonPatch(JsonPatch.add(`${podSpecPath}/securityContext/seccompProfile`, { type: 'RuntimeDefault' }));
}
