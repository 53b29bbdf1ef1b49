import type { Severity } from '../../../model/severity.js';

/**
 * CIS Kubernetes Benchmark section 5 (Policies): the newest benchmark in the catalogue (cis-v1.12.0) as
 * encoded by Kubescape (kubescape/regolibrary ce7ef32aef7a, frameworks/cis-v1.12.0.json).
 * cis-v1.10.0 in the same catalogue has the same ids, titles and texts. Severity is Kubescape's
 * baseScore bucket, upper-cased. Generated from ../shared/catalog/cis-kubernetes-section5.json; the test
 * compares it with the copy in test/fixtures/k8s-manifests/catalog/.
 */
export const CIS_BENCHMARK = 'cis-v1.12.0';
/** older benchmarks in the catalogue whose section 5 has the same ids */
export const CIS_BENCHMARK_ALSO: readonly string[] = ['cis-v1.10.0'];

export interface CisControl {
  id: string;
  title: string;
  subsection: string;
  subsectionTitle: string;
  kubescapeControlId: string;
  description: string;
  remediation: string;
  severity: Severity;
  /** Kubescape rules implementing the control; `rule-manual` when Kubescape cannot automate it */
  kubescapeRules: readonly string[];
}

export const CIS_CONTROLS: readonly CisControl[] = [
  {
    id: '5.1.1',
    title: 'Ensure that the cluster-admin role is only used where required',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0185',
    description:
      'The RBAC role `cluster-admin` provides wide-ranging powers over the environment and should be used only where and when needed.',
    remediation:
      'Identify all clusterrolebindings to the cluster-admin role. Check if they are used and if they need this role or if they could use a role with fewer privileges.\n\n Where possible, first bind users to a lower privileged role and then remove the clusterrolebinding to the cluster-admin role :\n\n \n```\nkubectl delete clusterrolebinding [name]\n\n```',
    severity: 'HIGH',
    kubescapeRules: ['cluster-admin-role'],
  },
  {
    id: '5.1.2',
    title: 'Minimize access to secrets',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0186',
    description:
      'The Kubernetes API stores secrets, which may be service account tokens for the Kubernetes API or credentials used by workloads in the cluster. Access to these secrets should be restricted to the smallest possible group of users to reduce the risk of privilege escalation.',
    remediation:
      'Where possible, remove `get`, `list` and `watch` access to `secret` objects in the cluster.',
    severity: 'MEDIUM',
    kubescapeRules: ['rule-can-list-get-secrets-v1'],
  },
  {
    id: '5.1.3',
    title: 'Minimize wildcard use in Roles and ClusterRoles',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0187',
    description:
      'Kubernetes Roles and ClusterRoles provide access to resources based on sets of objects and actions that can be taken on those objects. It is possible to set either of these to be the wildcard "\\*" which matches all items.\n\n Use of wildcards is not optimal from a security perspective as it may allow for inadvertent access to be granted when new resources are added to the Kubernetes API either as CRDs or in later versions of the product.',
    remediation:
      'Where possible replace any use of wildcards in clusterroles and roles with specific objects or actions.',
    severity: 'HIGH',
    kubescapeRules: ['rule-list-all-cluster-admins-v1'],
  },
  {
    id: '5.1.4',
    title: 'Minimize access to create pods',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0188',
    description:
      'The ability to create pods in a namespace can provide a number of opportunities for privilege escalation, such as assigning privileged service accounts to these pods or mounting hostPaths with access to sensitive data (unless Pod Security Policies are implemented to restrict this access)\n\n As such, access to create new pods should be restricted to the smallest possible group of users.',
    remediation: 'Where possible, remove `create` access to `pod` objects in the cluster.',
    severity: 'MEDIUM',
    kubescapeRules: ['rule-can-create-pod'],
  },
  {
    id: '5.1.5',
    title: 'Ensure that default service accounts are not actively used.',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0189',
    description:
      'The `default` service account should not be used to ensure that rights granted to applications can be more easily audited and reviewed.',
    remediation:
      'Create explicit service accounts wherever a Kubernetes workload requires specific access to the Kubernetes API server.\n\n Modify the configuration of each default service account to include this value\n\n \n```\nautomountServiceAccountToken: false\n\n```',
    severity: 'MEDIUM',
    kubescapeRules: ['automount-default-service-account', 'namespace-without-service-account'],
  },
  {
    id: '5.1.6',
    title: 'Ensure that Service Account Tokens are only mounted where necessary',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0190',
    description:
      'Service accounts tokens should not be mounted in pods except where the workload running in the pod explicitly needs to communicate with the API server',
    remediation:
      'Modify the definition of pods and service accounts which do not need to mount service account tokens to disable it.',
    severity: 'MEDIUM',
    kubescapeRules: ['automount-service-account'],
  },
  {
    id: '5.1.7',
    title: 'Avoid use of system:masters group',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0246',
    description:
      'The special group `system:masters` should not be used to grant permissions to any user or service account, except where strictly necessary (e.g. bootstrapping access prior to RBAC being fully available)',
    remediation: 'Remove the `system:masters` group from all users in the cluster.',
    severity: 'HIGH',
    kubescapeRules: ['rule-manual'],
  },
  {
    id: '5.1.8',
    title: 'Limit use of the Bind, Impersonate and Escalate permissions in the Kubernetes cluster',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0191',
    description:
      'Cluster roles and roles with the impersonate, bind or escalate permissions should not be granted unless strictly required. Each of these permissions allow a particular subject to escalate their privileges beyond those explicitly granted by cluster administrators',
    remediation: 'Where possible, remove the impersonate, bind and escalate rights from subjects.',
    severity: 'MEDIUM',
    kubescapeRules: ['rule-can-bind-escalate', 'rule-can-impersonate-users-groups-v1'],
  },
  {
    id: '5.1.9',
    title: 'Minimize access to create persistent volumes',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0278',
    description:
      'The ability to create persistent volumes in a cluster can provide an opportunity for privilege escalation, via the creation of `hostPath` volumes. As persistent volumes are not covered by Pod Security Admission, a user with access to create persistent volumes may be able to get access to sensitive files from the underlying host even where restrictive Pod Security Admission policies are in place.',
    remediation: 'Where possible, remove `create` access to `PersistentVolume` objects in the cluster.',
    severity: 'MEDIUM',
    kubescapeRules: ['rule-can-create-pv'],
  },
  {
    id: '5.1.10',
    title: 'Minimize access to the proxy sub-resource of nodes',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0279',
    description:
      'Users with access to the `Proxy` sub-resource of `Node` objects automatically have permissions to use the Kubelet API, which may allow for privilege escalation or bypass cluster security controls such as audit logs.\n\n The Kubelet provides an API which includes rights to execute commands in any container running on the node. Access to this API is covered by permissions to the main Kubernetes API via the `node` object. The proxy sub-resource specifically allows wide ranging access to the Kubelet API.\n\n Direct access to the Kubelet API bypasses controls like audit logging (there is no audit log of Kubelet API access) and admission control.',
    remediation: 'Where possible, remove access to the `proxy` sub-resource of `node` objects.',
    severity: 'MEDIUM',
    kubescapeRules: ['rule-can-access-proxy-subresource'],
  },
  {
    id: '5.1.11',
    title: 'Minimize access to the approval sub-resource of certificatesigningrequests objects',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0280',
    description:
      'Users with access to the update the `approval` sub-resource of `certificatesigningrequests` objects can approve new client certificates for the Kubernetes API effectively allowing them to create new high-privileged user accounts.\n\n This can allow for privilege escalation to full cluster administrator, depending on users configured in the cluster',
    remediation:
      'Where possible, remove access to the `approval` sub-resource of `certificatesigningrequests` objects.',
    severity: 'MEDIUM',
    kubescapeRules: ['rule-can-approve-cert-signing-request'],
  },
  {
    id: '5.1.12',
    title: 'Minimize access to webhook configuration objects',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0281',
    description:
      'Users with rights to create/modify/delete `validatingwebhookconfigurations` or `mutatingwebhookconfigurations` can control webhooks that can read any object admitted to the cluster, and in the case of mutating webhooks, also mutate admitted objects. This could allow for privilege escalation or disruption of the operation of the cluster.',
    remediation:
      'Where possible, remove access to the `validatingwebhookconfigurations` or `mutatingwebhookconfigurations` objects',
    severity: 'MEDIUM',
    kubescapeRules: ['rule-can-modify-admission-webhooks'],
  },
  {
    id: '5.1.13',
    title: 'Minimize access to the service account token creation',
    subsection: '5.1',
    subsectionTitle: 'RBAC and Service Accounts',
    kubescapeControlId: 'C-0282',
    description:
      'Users with rights to create new service account tokens at a cluster level, can create long-lived privileged credentials in the cluster. This could allow for privilege escalation and persistent access to the cluster, even if the users account has been revoked.',
    remediation: 'Where possible, remove access to the `token` sub-resource of `serviceaccount` objects.',
    severity: 'MEDIUM',
    kubescapeRules: ['rule-can-create-service-account-token'],
  },
  {
    id: '5.2.1',
    title: 'Ensure that the cluster has at least one active policy control mechanism in place',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0192',
    description:
      'Every Kubernetes cluster should have at least one policy control mechanism in place to enforce the other requirements in this section. This could be the in-built Pod Security Admission controller, or a third party policy control system.',
    remediation:
      'Ensure that either Pod Security Admission or an external policy control system is in place for every namespace which contains user workloads.',
    severity: 'MEDIUM',
    kubescapeRules: ['pod-security-admission-applied-1', 'pod-security-admission-applied-2'],
  },
  {
    id: '5.2.2',
    title: 'Minimize the admission of privileged containers',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0193',
    description:
      'Do not generally permit containers to be run with the `securityContext.privileged` flag set to `true`.',
    remediation:
      'Add policies to each namespace in the cluster which has user workloads to restrict the admission of privileged containers.',
    severity: 'HIGH',
    kubescapeRules: [
      'pod-security-admission-baseline-applied-1',
      'pod-security-admission-baseline-applied-2',
    ],
  },
  {
    id: '5.2.3',
    title: 'Minimize the admission of containers wishing to share the host process ID namespace',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0275',
    description: 'Do not generally permit containers to be run with the `hostPID` flag set to true.',
    remediation: 'Configure the Admission Controller to restrict the admission of `hostPID` containers.',
    severity: 'MEDIUM',
    kubescapeRules: ['host-pid-privileges'],
  },
  {
    id: '5.2.4',
    title: 'Minimize the admission of containers wishing to share the host IPC namespace',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0276',
    description: 'Do not generally permit containers to be run with the `hostIPC` flag set to true.',
    remediation:
      'Add policies to each namespace in the cluster which has user workloads to restrict the admission of `hostIPC` containers.',
    severity: 'MEDIUM',
    kubescapeRules: ['host-ipc-privileges'],
  },
  {
    id: '5.2.5',
    title: 'Minimize the admission of containers wishing to share the host network namespace',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0041',
    description: 'Do not generally permit containers to be run with the `hostNetwork` flag set to true.',
    remediation:
      'Add policies to each namespace in the cluster which has user workloads to restrict the admission of `hostNetwork` containers.',
    severity: 'HIGH',
    kubescapeRules: ['host-network-access'],
  },
  {
    id: '5.2.6',
    title: 'Minimize the admission of containers with allowPrivilegeEscalation',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0197',
    description:
      "Do not generally permit containers to be run with the `allowPrivilegeEscalation` flag set to true. Allowing this right can lead to a process running a container getting more rights than it started with.\n\n It's important to note that these rights are still constrained by the overall container sandbox, and this setting does not relate to the use of privileged containers.",
    remediation:
      'Add policies to each namespace in the cluster which has user workloads to restrict the admission of conatiners with `securityContext: allowPrivilegeEscalation: true`',
    severity: 'MEDIUM',
    kubescapeRules: [
      'pod-security-admission-restricted-applied-1',
      'pod-security-admission-restricted-applied-2',
    ],
  },
  {
    id: '5.2.7',
    title: 'Minimize the admission of root containers',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0198',
    description: 'Do not generally permit containers to be run as the root user.',
    remediation:
      'Create a policy for each namespace in the cluster, ensuring that either `MustRunAsNonRoot` or `MustRunAs` with the range of UIDs not including 0, is set.',
    severity: 'MEDIUM',
    kubescapeRules: [
      'pod-security-admission-restricted-applied-1',
      'pod-security-admission-restricted-applied-2',
    ],
  },
  {
    id: '5.2.8',
    title: 'Minimize the admission of containers with the NET\\_RAW capability',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0199',
    description: 'Do not generally permit containers with the potentially dangerous NET\\_RAW capability.',
    remediation:
      'Add policies to each namespace in the cluster which has user workloads to restrict the admission of containers with the `NET_RAW` capability.',
    severity: 'MEDIUM',
    kubescapeRules: [
      'pod-security-admission-baseline-applied-1',
      'pod-security-admission-baseline-applied-2',
    ],
  },
  {
    id: '5.2.9',
    title: 'Minimize the admission of containers with added capabilities',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0200',
    description: 'Do not generally permit containers with capabilities assigned beyond the default set.',
    remediation:
      'Ensure that `allowedCapabilities` is not present in policies for the cluster unless it is set to an empty array.',
    severity: 'MEDIUM',
    kubescapeRules: [
      'pod-security-admission-restricted-applied-1',
      'pod-security-admission-restricted-applied-2',
    ],
  },
  {
    id: '5.2.10',
    title: 'Minimize the admission of containers with capabilities assigned',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0201',
    description: 'Do not generally permit containers with capabilities',
    remediation:
      'Review the use of capabilities in applications running on your cluster. Where a namespace contains applications which do not require any Linux capabilities to operate consider adding a policy which forbids the admission of containers which do not drop all capabilities.',
    severity: 'MEDIUM',
    kubescapeRules: [
      'pod-security-admission-restricted-applied-1',
      'pod-security-admission-restricted-applied-2',
    ],
  },
  {
    id: '5.2.11',
    title: 'Minimize the admission of Windows HostProcess Containers',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0202',
    description:
      'Do not generally permit Windows containers to be run with the `hostProcess` flag set to true.',
    remediation:
      'Add policies to each namespace in the cluster which has user workloads to restrict the admission of `hostProcess` containers.',
    severity: 'HIGH',
    kubescapeRules: [
      'pod-security-admission-baseline-applied-1',
      'pod-security-admission-baseline-applied-2',
    ],
  },
  {
    id: '5.2.12',
    title: 'Minimize the admission of HostPath volumes',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0203',
    description: 'Do not generally admit containers which make use of `hostPath` volumes.',
    remediation:
      'Add policies to each namespace in the cluster which has user workloads to restrict the admission of containers which use `hostPath` volumes.',
    severity: 'MEDIUM',
    kubescapeRules: [
      'pod-security-admission-baseline-applied-1',
      'pod-security-admission-baseline-applied-2',
    ],
  },
  {
    id: '5.2.13',
    title: 'Minimize the admission of containers which use HostPorts',
    subsection: '5.2',
    subsectionTitle: 'Pod Security Standards',
    kubescapeControlId: 'C-0204',
    description: 'Do not generally permit containers which require the use of HostPorts.',
    remediation:
      'Add policies to each namespace in the cluster which has user workloads to restrict the admission of containers which use `hostPort` sections.',
    severity: 'MEDIUM',
    kubescapeRules: [
      'pod-security-admission-baseline-applied-1',
      'pod-security-admission-baseline-applied-2',
    ],
  },
  {
    id: '5.3.1',
    title: 'Ensure that the CNI in use supports Network Policies',
    subsection: '5.3',
    subsectionTitle: 'Network Policies and CNI',
    kubescapeControlId: 'C-0205',
    description:
      'There are a variety of CNI plugins available for Kubernetes. If the CNI in use does not support Network Policies it may not be possible to effectively restrict traffic in the cluster.',
    remediation:
      'If the CNI plugin in use does not support network policies, consideration should be given to making use of a different plugin, or finding an alternate mechanism for restricting traffic in the Kubernetes cluster.',
    severity: 'MEDIUM',
    kubescapeRules: ['ensure-that-the-cni-in-use-supports-network-policies'],
  },
  {
    id: '5.3.2',
    title: 'Ensure that all Namespaces have Network Policies defined',
    subsection: '5.3',
    subsectionTitle: 'Network Policies and CNI',
    kubescapeControlId: 'C-0206',
    description: 'Use network policies to isolate traffic in your cluster network.',
    remediation:
      'Follow the documentation and create `NetworkPolicy`, `CiliumNetworkPolicy`, or `CiliumClusterwideNetworkPolicy` objects as you need them.',
    severity: 'MEDIUM',
    kubescapeRules: ['internal-networking'],
  },
  {
    id: '5.4.1',
    title: 'Prefer using secrets as files over secrets as environment variables',
    subsection: '5.4',
    subsectionTitle: 'Secrets Management',
    kubescapeControlId: 'C-0207',
    description:
      'Kubernetes supports mounting secrets as data volumes or as environment variables. Minimize the use of environment variable secrets.',
    remediation:
      'If possible, rewrite application code to read secrets from mounted secret files, rather than from environment variables.',
    severity: 'MEDIUM',
    kubescapeRules: ['rule-secrets-in-env-var'],
  },
  {
    id: '5.4.2',
    title: 'Consider external secret storage',
    subsection: '5.4',
    subsectionTitle: 'Secrets Management',
    kubescapeControlId: 'C-0208',
    description:
      'Consider the use of an external secrets storage and management system, instead of using Kubernetes Secrets directly, if you have more complex secret management needs. Ensure the solution requires authentication to access secrets, has auditing of access to and use of secrets, and encrypts secrets. Some solutions also make it easier to rotate secrets.',
    remediation:
      'Refer to the secrets management options offered by your cloud provider or a third-party secrets management solution.',
    severity: 'MEDIUM',
    kubescapeRules: ['external-secret-storage'],
  },
  {
    id: '5.5.1',
    title: 'Configure Image Provenance using ImagePolicyWebhook admission controller',
    subsection: '5.5',
    subsectionTitle: 'Extensible Admission Control',
    kubescapeControlId: 'C-0289',
    description: 'Configure Image Provenance for your deployment.',
    remediation: 'Follow the Kubernetes documentation and setup image provenance.',
    severity: 'HIGH',
    kubescapeRules: ['rule-manual'],
  },
  {
    id: '5.7.1',
    title: 'Create administrative boundaries between resources using namespaces',
    subsection: '5.7',
    subsectionTitle: 'General Policies',
    kubescapeControlId: 'C-0209',
    description: 'Use namespaces to isolate your Kubernetes objects.',
    remediation:
      'Follow the documentation and create namespaces for objects in your deployment as you need them.',
    severity: 'MEDIUM',
    kubescapeRules: ['list-all-namespaces'],
  },
  {
    id: '5.7.2',
    title: 'Ensure that the seccomp profile is set to docker/default in your pod definitions',
    subsection: '5.7',
    subsectionTitle: 'General Policies',
    kubescapeControlId: 'C-0210',
    description: 'Enable `docker/default` seccomp profile in your pod definitions.',
    remediation:
      'Use security context to enable the `docker/default` seccomp profile in your pod definitions. An example is as below:\n\n \n```\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n\n```',
    severity: 'MEDIUM',
    kubescapeRules: ['set-seccomp-profile-RuntimeDefault'],
  },
  {
    id: '5.7.3',
    title: 'Apply Security Context to Your Pods and Containers',
    subsection: '5.7',
    subsectionTitle: 'General Policies',
    kubescapeControlId: 'C-0211',
    description: 'Apply Security Context to Your Pods and Containers',
    remediation:
      'Follow the Kubernetes documentation and apply security contexts to your pods. For a suggested list of security contexts, you may refer to the CIS Security Benchmark for Docker Containers.',
    severity: 'HIGH',
    kubescapeRules: [
      'rule-privilege-escalation',
      'immutable-container-filesystem',
      'non-root-containers',
      'drop-capability-netraw',
      'set-seLinuxOptions',
      'set-seccomp-profile',
      'set-procmount-default',
      'set-fsgroup-value',
      'set-fsgroupchangepolicy-value',
      'set-sysctls-params',
      'set-supplementalgroups-values',
      'rule-allow-privilege-escalation',
      'set-gmsacredentialspecname-value',
      'set-hostprocess-true',
      'set-runasusername-value',
    ],
  },
  {
    id: '5.7.4',
    title: 'The default namespace should not be used',
    subsection: '5.7',
    subsectionTitle: 'General Policies',
    kubescapeControlId: 'C-0212',
    description:
      'Kubernetes provides a default namespace, where objects are placed if no namespace is specified for them. Placing objects in this namespace makes application of RBAC and other controls more difficult.',
    remediation:
      'Ensure that namespaces are created to allow for appropriate segregation of Kubernetes resources and that all new resources are created in a specific namespace.',
    severity: 'MEDIUM',
    kubescapeRules: [
      'pods-in-default-namespace',
      'rolebinding-in-default-namespace',
      'role-in-default-namespace',
      'configmap-in-default-namespace',
      'endpoints-in-default-namespace',
      'persistentvolumeclaim-in-default-namespace',
      'podtemplate-in-default-namespace',
      'replicationcontroller-in-default-namespace',
      'service-in-default-namespace',
      'serviceaccount-in-default-namespace',
      'endpointslice-in-default-namespace',
      'horizontalpodautoscaler-in-default-namespace',
      'lease-in-default-namespace',
      'csistoragecapacity-in-default-namespace',
      'ingress-in-default-namespace',
      'poddisruptionbudget-in-default-namespace',
      'resources-secret-in-default-namespace',
    ],
  },
];
