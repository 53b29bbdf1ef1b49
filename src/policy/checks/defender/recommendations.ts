import type { Severity } from '../../../model/severity.js';
import type { ParamType } from '../../types.js';

/**
 * Microsoft Defender for Containers' Kubernetes data-plane recommendations, as shipped: one entry per
 * recommendation of the catalogue (Defender docs + Azure/azure-policy, see test/fixtures/defender), with the
 * related Azure Policy's own parameters and Defender's defaults (the Microsoft cloud security benchmark
 * initiative's values, falling back to the policy's). Boilerplate policy parameters (source, warn, effect,
 * namespaces, labelSelector) are left out. test/policy/defender.test.ts checks this table against the catalogue.
 */
export interface DefenderRecommendation {
  assessmentKey: string;
  name: string;
  description: string;
  severity: Severity;
  securityControl: string;
  /** what Defender's documentation says; our check's own flag follows whether the default flags everything */
  configurationRequired: boolean;
  azurePolicyId: string;
  azurePolicyName: string;
  /** the policy version whose semantics the check follows */
  azurePolicyVersion: string;
  /** the major version the initiative pins */
  initiativeVersion: string;
  gatekeeperTemplate: string;
  kinds: readonly string[];
  parameters: readonly { name: string; type: ParamType; description: string; default: unknown }[];
}

// Host networking follows policy v6 (minPort/maxPort), the version the initiative pins; v7 replaced them
// with allowedHostPorts.
export const DEFENDER_RECOMMENDATIONS: readonly DefenderRecommendation[] = [
  {
    assessmentKey: '405c9ae6-49f9-46c4-8873-a86690f27818',
    name: 'Container CPU and memory limits should be enforced',
    description:
      'Enforcing CPU and memory limits prevents resource exhaustion attacks (a form of denial of service attack). We recommend setting limits for containers to ensure the runtime prevents the container from using more than the configured resource limit.',
    severity: 'MEDIUM',
    securityControl: 'Protect applications against DDoS attack',
    configurationRequired: true,
    azurePolicyId: 'e345eecc-fa47-480f-9e88-67dcc122b164',
    azurePolicyName:
      'Kubernetes cluster containers CPU and memory resource limits should not exceed the specified limits',
    azurePolicyVersion: '9.3.0',
    initiativeVersion: '9.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/container-resource-limits/v3/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
      {
        name: 'cpuLimit',
        type: 'string',
        description:
          'The maximum CPU units allowed for a container. E.g. 200m. For more information, please refer https://aka.ms/k8s-policy-pod-limits',
        default: '32',
      },
      {
        name: 'memoryLimit',
        type: 'string',
        description:
          'The maximum memory bytes allowed for a container. E.g. 1Gi. For more information, please refer https://aka.ms/k8s-policy-pod-limits',
        default: '64Gi',
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: '8d244d29-fa00-4332-b935-c3a51d525417',
    name: 'Container images should be deployed from trusted registries only',
    description:
      "Images running on your Kubernetes cluster should come from known and monitored container image registries. Trusted registries reduce your cluster's exposure risk by limiting the potential for the introduction of unknown vulnerabilities, security issues, and malicious images.",
    severity: 'HIGH',
    securityControl: 'Remediate vulnerabilities',
    configurationRequired: true,
    azurePolicyId: 'febd0533-8e55-448f-b837-bd0e06f16469',
    azurePolicyName: 'Kubernetes cluster containers should only use allowed images',
    azurePolicyVersion: '9.3.0',
    initiativeVersion: '9.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/container-allowed-images/v2/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
      {
        name: 'allowedContainerImagesRegex',
        type: 'string',
        description:
          'The RegEx rule used to match allowed container image field in a Kubernetes cluster. For example, to allow any Azure Container Registry image by matching partial path: ^[^\\/]+\\.azurecr\\.io\\/.+$ and for multiple registries: ^([^\\/]+\\.azurecr\\.io|registry\\.io)\\/.+$',
        default: '^(.+){0}$',
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: '802c0637-5a8c-4c98-abd7-7c96d89d6010',
    name: 'Containers sharing sensitive host namespaces should be avoided',
    description:
      'To protect against privilege escalation outside the container, avoid pod access to sensitive host namespaces (host process ID and host IPC) in a Kubernetes cluster.',
    severity: 'MEDIUM',
    securityControl: 'Manage access and permissions',
    configurationRequired: false,
    azurePolicyId: '47a1ee2f-2a2a-4576-bf2a-e0e36709c2b8',
    azurePolicyName: 'Kubernetes cluster containers should not share host namespaces',
    azurePolicyVersion: '6.0.0',
    initiativeVersion: '5.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/block-host-namespace/v3/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: ['kube-system', 'gatekeeper-system', 'azure-arc', 'azure-extensions-usage-system'],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: '86f91051-9d6a-47c3-a07f-bd14cb214b45',
    name: 'Containers should only use allowed AppArmor profiles',
    description:
      'Containers running on Kubernetes clusters should be limited to allowed AppArmor profiles only.',
    severity: 'HIGH',
    securityControl: 'Remediate security configurations',
    configurationRequired: true,
    azurePolicyId: '511f5417-5d12-434d-ab2e-816901e72a5e',
    azurePolicyName: 'Kubernetes cluster containers should only use allowed AppArmor profiles',
    azurePolicyVersion: '6.2.1',
    initiativeVersion: '6.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/enforce-apparmor-profile/v3/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
      {
        name: 'allowedProfiles',
        type: 'string-list',
        description:
          'The list of AppArmor profiles that containers are allowed to use. E.g. [ "runtime/default", "docker/default" ]. Use "localhost/*" to allow all localhost profiles. Provide empty list as input to block everything.',
        default: ['runtime/default'],
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: '43dc2a2e-ce69-4d42-923e-ab7d136f2cfe',
    name: 'Container with privilege escalation should be avoided',
    description:
      "Containers shouldn't run with privilege escalation to root in your Kubernetes cluster. The AllowPrivilegeEscalation attribute controls whether a process can gain more privileges than its parent process.",
    severity: 'MEDIUM',
    securityControl: 'Manage access and permissions',
    configurationRequired: false,
    azurePolicyId: '1c6e92c9-99f0-4e55-9cf2-0c234dc48f99',
    azurePolicyName: 'Kubernetes clusters should not allow container privilege escalation',
    azurePolicyVersion: '8.0.0',
    initiativeVersion: '7.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/container-no-privilege-escalation/v4/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: ['kube-system', 'gatekeeper-system', 'azure-arc', 'azure-extensions-usage-system'],
      },
      {
        name: 'forcePrivilegeEscalationToBeFalse',
        type: 'boolean',
        description:
          'If set to true, then `allowPrivilegeEscalation` must explicitly be set to false regardless of the `runAsUser` field in the container securityContext. Setting this value to true will make this policy follow the behavior of the Kubernetes Pod Security Standards for Privilege Escalation at the restricted level: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted',
        default: false,
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: '27d6f0e9-b4d5-468b-ae7e-03d5473fd864',
    name: 'Immutable (read-only) root filesystem should be enforced for containers',
    description:
      'Containers should run with a read only root file system in your Kubernetes cluster. Immutable filesystem protects containers from changes at run-time with malicious binaries being added to PATH.',
    severity: 'MEDIUM',
    securityControl: 'Manage access and permissions',
    configurationRequired: false,
    azurePolicyId: 'df49d893-a74c-421d-bc95-c663042e5b80',
    azurePolicyName: 'Kubernetes cluster containers should run with a read only root file system',
    azurePolicyVersion: '6.3.0',
    initiativeVersion: '6.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/read-only-root-filesystem/v3/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: 'c6d87087-9ebe-b31f-b452-0bf3bbbaccd2',
    name: 'Kubernetes clusters should be accessible only over HTTPS',
    description:
      'Use of HTTPS ensures authentication and protects data in transit from network layer eavesdropping attacks.',
    severity: 'HIGH',
    securityControl: 'Encrypt data in transit',
    configurationRequired: false,
    azurePolicyId: '1a5b4dca-0b6f-4cf5-907c-56316bc1bf3d',
    azurePolicyName: 'Kubernetes clusters should be accessible only over HTTPS',
    azurePolicyVersion: '9.0.0',
    initiativeVersion: '8.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/ingress-https-only/v2/template.yaml',
    kinds: ['Ingress'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: ['kube-system', 'gatekeeper-system', 'azure-arc', 'azure-extensions-usage-system'],
      },
    ],
  },
  {
    assessmentKey: '32060ac3-f17f-4848-db8e-e7cf2c9a53eb',
    name: 'Kubernetes clusters should disable automounting API credentials',
    description:
      'Disable automounting API credentials to prevent a potentially compromised Pod resource to run API commands against Kubernetes clusters.',
    severity: 'HIGH',
    securityControl: 'Manage access and permissions',
    configurationRequired: false,
    azurePolicyId: '423dd1ba-798e-40e4-9c4d-b6902674b423',
    azurePolicyName: 'Kubernetes clusters should disable automounting API credentials',
    azurePolicyVersion: '4.2.0',
    initiativeVersion: '4.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/block-automount-token/v2/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
    ],
  },
  {
    assessmentKey: 'aba14f78-27c5-af84-848e-9105d18dfd92',
    name: 'Kubernetes clusters should not grant CAPSYSADMIN security capabilities',
    description:
      'To reduce the attack surface of your containers, restrict CAP_SYS_ADMIN Linux capabilities.',
    severity: 'HIGH',
    securityControl: 'Manage access and permissions',
    configurationRequired: false,
    azurePolicyId: 'd2e7ea85-6b44-4317-a0be-1b951587f626',
    azurePolicyName: 'Kubernetes clusters should not grant CAP_SYS_ADMIN security capabilities',
    azurePolicyVersion: '5.1.0',
    initiativeVersion: '5.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/container-disallowed-capabilities/v3/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: 'ff87e0b4-17df-d338-5b19-80e71e0dcc9d',
    name: 'Kubernetes clusters should not use the default namespace',
    description:
      'Prevent usage of the default namespace in Kubernetes clusters to protect against unauthorized access for ConfigMap, Pod, Secret, Service, and ServiceAccount resource types.',
    severity: 'LOW',
    securityControl: 'Implement security best practices',
    configurationRequired: false,
    azurePolicyId: '9f061a12-e40d-4183-a00e-171812443373',
    azurePolicyName: 'Kubernetes clusters should not use the default namespace',
    azurePolicyVersion: '4.2.0',
    initiativeVersion: '4.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/block-default-namespace/v1/template.yaml',
    kinds: ['Pod', 'Service', 'ServiceAccount'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: ['kube-system', 'gatekeeper-system', 'azure-arc', 'azure-extensions-usage-system'],
      },
    ],
  },
  {
    assessmentKey: '11c95609-3553-430d-b788-fd41cde8b2db',
    name: 'Least privileged Linux capabilities should be enforced for containers',
    description:
      'To reduce attack surface of your container, restrict Linux capabilities and grant specific privileges to containers without granting all the privileges of the root user. We recommend dropping all capabilities, then adding those that are required.',
    severity: 'MEDIUM',
    securityControl: 'Manage access and permissions',
    configurationRequired: true,
    azurePolicyId: 'c26596ff-4d70-4e6a-9a30-c2506bd2f80c',
    azurePolicyName: 'Kubernetes cluster containers should only use allowed capabilities',
    azurePolicyVersion: '6.2.0',
    initiativeVersion: '6.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/container-allowed-capabilities/v3/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
      {
        name: 'allowedCapabilities',
        type: 'string-list',
        description:
          'The list of capabilities that are allowed to be added to a container. Provide empty list as input to block everything.',
        default: [],
      },
      {
        name: 'requiredDropCapabilities',
        type: 'string-list',
        description: 'The list of capabilities that must be dropped by a container.',
        default: [],
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: '5d90913f-a1c5-4429-ad54-2c6c17fb3c73',
    name: 'Privileged containers should be avoided',
    description:
      'To prevent unrestricted host access, avoid privileged containers whenever possible. Privileged containers have all of the root capabilities of a host machine. They can be used as entry points for attacks and to spread malicious code or malware to compromised applications, hosts, and networks.',
    severity: 'MEDIUM',
    securityControl: 'Manage access and permissions',
    configurationRequired: false,
    azurePolicyId: '95edb821-ddaf-4404-9732-666045e056b4',
    azurePolicyName: 'Kubernetes cluster should not allow privileged containers',
    azurePolicyVersion: '9.2.0',
    initiativeVersion: '9.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/container-no-privilege/v2/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: '9b795646-9130-41a4-90b7-df9eae2437c8',
    name: 'Running containers as root user should be avoided',
    description:
      "Containers shouldn't run as root users in your Kubernetes cluster. Running a process as the root user inside a container runs it as root on the host. If there's a compromise, an attacker has root in the container, and any misconfigurations become easier to exploit.",
    severity: 'HIGH',
    securityControl: 'Manage access and permissions',
    configurationRequired: false,
    azurePolicyId: 'f06ddb64-5fa3-4b77-b166-acb36f7f6042',
    azurePolicyName:
      'Kubernetes cluster pods and containers should only run with approved user and group IDs',
    azurePolicyVersion: '6.2.0',
    initiativeVersion: '6.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/allowed-users-groups/v3/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
      {
        name: 'runAsUserRule',
        type: 'string',
        description:
          "The 'RunAsUser' rule that containers are allowed to run with. MustRunAs requires at least one range to be specified. MustRunAsNonRoot requires the pod be submitted with non-zero runAsUser or have USER directive defined (using a numeric UID) in the image. RunAsAny allows any runAsUser to be specified",
        default: 'MustRunAsNonRoot',
      },
      {
        name: 'runAsUserRanges',
        type: 'object',
        description:
          "The user ID ranges that are allowed for containers to use. Set 'max' as '-1' to skip max limit evaluation. Empty array blocks every defined value for 'MustRunAs'.",
        default: {
          ranges: [],
        },
      },
      {
        name: 'runAsGroupRule',
        type: 'string',
        description:
          "The 'RunAsGroup' rule that containers are allowed to run with. MustRunAs requires at least one range to be specified. MayRunAs does not require that 'RunAsGroup' be specified. RunAsAny allows any",
        default: 'MustRunAs',
      },
      {
        name: 'runAsGroupRanges',
        type: 'object',
        description:
          "The group ID ranges that are allowed for containers to use. Set 'max' as '-1' to skip max limit evaluation. Empty array blocks every defined value for 'MustRunAs' and 'MayRunAs'.",
        default: {
          ranges: [
            {
              min: 1,
              max: -1,
            },
          ],
        },
      },
      {
        name: 'supplementalGroupsRule',
        type: 'string',
        description:
          "The 'SupplementalGroups' rule that containers are allowed to run with. MustRunAs requires at least one range to be specified. MayRunAs does not require that 'SupplementalGroups' be specified. RunAsAny allows any",
        default: 'MayRunAs',
      },
      {
        name: 'supplementalGroupsRanges',
        type: 'object',
        description:
          "The supplemental group ID ranges that are allowed for containers to use. Set 'max' as '-1' to skip max limit evaluation. Empty array blocks every defined value for 'MustRunAs' and 'MayRunAs'.",
        default: {
          ranges: [
            {
              min: 1,
              max: -1,
            },
          ],
        },
      },
      {
        name: 'fsGroupRule',
        type: 'string',
        description:
          "The 'FSGroup' rule that containers are allowed to run with. MustRunAs requires at least one range to be specified. MayRunAs does not require that 'FSGroup' be specified. RunAsAny allows any",
        default: 'MayRunAs',
      },
      {
        name: 'fsGroupRanges',
        type: 'object',
        description:
          "The file system group ranges that are allowed for pods to use. Set 'max' as '-1' to skip max limit evaluation. Empty array blocks every defined value for 'MustRunAs' and 'MayRunAs'.",
        default: {
          ranges: [
            {
              min: 1,
              max: -1,
            },
          ],
        },
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: 'add45209-73f6-4fa5-a5a5-74a451b07fbe',
    name: 'Services should listen on allowed ports only',
    description:
      'To reduce the attack surface of your Kubernetes cluster, restrict access to the cluster by limiting services access to the configured ports.',
    severity: 'MEDIUM',
    securityControl: 'Restrict unauthorized network access',
    configurationRequired: true,
    azurePolicyId: '233a2a17-77ca-4fb1-9b6b-69223d272a44',
    azurePolicyName: 'Kubernetes cluster services should listen only on allowed ports',
    azurePolicyVersion: '8.2.0',
    initiativeVersion: '8.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/service-allowed-ports/v1/template.yaml',
    kinds: ['Service'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: ['kube-system', 'gatekeeper-system', 'azure-arc', 'azure-extensions-usage-system'],
      },
      {
        name: 'allowedServicePortsList',
        type: 'string-list',
        description:
          'The list of service ports allowed in a Kubernetes cluster. Array only accepts strings. Example: ["443", "80"]',
        default: ['-1'],
      },
    ],
  },
  {
    assessmentKey: 'ebc68898-5c0f-4353-a426-4a5f1e737b12',
    name: 'Usage of host networking and ports should be restricted',
    description:
      "Restrict pod access to the host network and the allowable host port range in a Kubernetes cluster. Pods created with the hostNetwork attribute enabled will share the node's network space. To avoid compromised container from sniffing network traffic, we recommend not putting your pods on the host network.",
    severity: 'MEDIUM',
    securityControl: 'Restrict unauthorized network access',
    configurationRequired: true,
    azurePolicyId: '82985f06-dc18-4a48-bc1c-b9f4f0098cfe',
    azurePolicyName: 'Kubernetes cluster pods should only use approved host network and port list',
    azurePolicyVersion: '6.*.*',
    initiativeVersion: '6.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/host-network-ports/v4/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: ['kube-system', 'gatekeeper-system', 'azure-arc', 'azure-extensions-usage-system'],
      },
      {
        name: 'allowHostNetwork',
        type: 'boolean',
        description: 'Set this value to true if pod is allowed to use host network otherwise false.',
        default: false,
      },
      {
        name: 'minPort',
        type: 'number',
        description:
          'The minimum value in the allowable host port range that pods can use in the host network namespace (policy v6, which the Microsoft cloud security benchmark initiative pins).',
        default: 0,
      },
      {
        name: 'maxPort',
        type: 'number',
        description:
          'The maximum value in the allowable host port range that pods can use in the host network namespace (policy v6, which the Microsoft cloud security benchmark initiative pins).',
        default: 0,
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
  {
    assessmentKey: 'f0debc84-981c-4a0d-924d-aa4bd7d55fef',
    name: 'Usage of pod HostPath volume mounts should be restricted to a known list to restrict node access from compromised containers',
    description:
      "We recommend limiting pod HostPath volume mounts in your Kubernetes cluster to the configured allowed host paths. If there's a compromise, the container node access from the containers should be restricted.",
    severity: 'MEDIUM',
    securityControl: 'Manage access and permissions',
    configurationRequired: true,
    azurePolicyId: '098fc59e-46c7-4d99-9b16-64990e543d75',
    azurePolicyName: 'Kubernetes cluster pod hostPath volumes should only use allowed host paths',
    azurePolicyVersion: '6.3.0',
    initiativeVersion: '6.*.*',
    gatekeeperTemplate:
      'https://store.policy.core.windows.net/kubernetes/allowed-host-paths/v4/template.yaml',
    kinds: ['Pod'],
    parameters: [
      {
        name: 'excludedNamespaces',
        type: 'string-list',
        description:
          'List of Kubernetes namespaces to exclude from policy evaluation. System namespaces "kube-system", "gatekeeper-system" and "azure-arc" are always excluded by design. "azure-extensions-usage-system" is optional to remove.',
        default: [
          'kube-system',
          'gatekeeper-system',
          'azure-arc',
          'azuredefender',
          'mdc',
          'azure-extensions-usage-system',
        ],
      },
      {
        name: 'allowedHostPaths',
        type: 'object',
        description:
          'The host paths allowed for pod hostPath volumes to use. Provide an empty paths list to block all host paths.',
        default: {
          paths: [],
        },
      },
      {
        name: 'windowsAllowedHostPaths',
        type: 'object',
        description:
          'The host paths allowed for windows pod hostPath volumes to use. Provide an empty paths list to block all host paths. Use "C:\\" to allow all windows host paths.',
        default: {
          paths: [],
        },
      },
      {
        name: 'excludedContainers',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from readonly evaluation. It will not exclude the disallowed host path. The identify is the name of container. Use an empty list to apply this policy to all containers in all namespaces.',
        default: [],
      },
      {
        name: 'excludedImages',
        type: 'string-list',
        description:
          'The list of InitContainers and Containers to exclude from policy evaluation. The identifier is the image of container. Prefix-matching can be signified with `*`. For example: `myregistry.azurecr.io/istio:*`. It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name) in order to avoid unexpectedly exempting images from an untrusted repository.',
        default: [],
      },
    ],
  },
];
