package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnclaveSpec declares the shared Tier 2 enclave.
type EnclaveSpec struct {
	// sites are the SECRET-accredited HostingSites the enclave spans.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +listType=set
	Sites []string `json:"sites"`

	// tenants are the departments that use the enclave. A SECRET workload is
	// placed in the enclave only when its owner's department is a tenant.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=department
	Tenants []Tenant `json:"tenants"`

	// zone is the network zone that forms the enclave's segment.
	// +optional
	// +kubebuilder:default=enclave
	// +kubebuilder:validation:MaxLength=63
	Zone string `json:"zone,omitempty"`

	// crossDomainGateway is the only way into or out of the enclave.
	// +required
	CrossDomainGateway CrossDomainGateway `json:"crossDomainGateway"`

	// controls the enclave must keep. Each is verified on every site and
	// reported as a condition.
	// +required
	Controls EnclaveControls `json:"controls"`
}

// Tenant is a department that uses the enclave.
type Tenant struct {
	// department, for example "home-office" or "national-crime-agency".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Department string `json:"department"`

	// namespaces the tenant owns on each enclave site.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=set
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:items:MaxLength=63
	Namespaces []string `json:"namespaces"`

	// quota is the tenant's total on each site.
	// +optional
	Quota *TenantQuota `json:"quota,omitempty"`

	// members are the groups granted access to the tenant's namespaces.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	Members []string `json:"members,omitempty"`
}

// TenantQuota bounds a tenant's resources.
type TenantQuota struct {
	// cpu limit for the tenant.
	// +required
	CPU resource.Quantity `json:"cpu"`
	// memory limit for the tenant.
	// +required
	Memory resource.Quantity `json:"memory"`
}

// CrossDomainGateway is the guarded entry to and exit from the enclave.
type CrossDomainGateway struct {
	// name of the gateway.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// allowedFlows are the only flows that cross the enclave boundary.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	AllowedFlows []GatewayFlow `json:"allowedFlows,omitempty"`
}

// GatewayFlow is one flow the cross-domain gateway passes.
type GatewayFlow struct {
	// fromZone is the zone outside the enclave.
	// +required
	// +kubebuilder:validation:MinLength=1
	FromZone string `json:"fromZone"`
	// ports passed.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +listType=atomic
	Ports []FlowPort `json:"ports"`
}

// EnclaveControls are the controls an enclave keeps. The API accepts only
// true for each: an enclave without them is not an enclave.
type EnclaveControls struct {
	// noInternetEgress blocks every route to the internet.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == true",message="an enclave must block internet egress; set noInternetEgress: true"
	NoInternetEgress bool `json:"noInternetEgress"`
	// encryptionAtRest requires storage encryption on every site.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == true",message="an enclave must encrypt data at rest; set encryptionAtRest: true"
	EncryptionAtRest bool `json:"encryptionAtRest"`
	// auditLogging requires API audit logging on every site.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == true",message="an enclave must keep audit logs; set auditLogging: true"
	AuditLogging bool `json:"auditLogging"`
	// tenantIsolation isolates tenants from each other.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == true",message="an enclave must isolate its tenants; set tenantIsolation: true"
	TenantIsolation bool `json:"tenantIsolation"`
}

// EnclaveStatus is the verified state of the enclave.
type EnclaveStatus struct {
	// observedGeneration is the spec generation this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions hold one condition per control (NoInternetEgress,
	// EncryptionAtRest, AuditLogging, TenantIsolation) and Ready, which is
	// True only when every control holds on every site.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Enclave is the shared Tier 2 (SECRET) enclave that several departments use.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=estate
// +kubebuilder:printcolumn:name="Sites",type=string,JSONPath=`.spec.sites`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Enclave struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the enclave.
	// +required
	Spec EnclaveSpec `json:"spec"`

	// status is written by the enclave operator.
	// +optional
	Status EnclaveStatus `json:"status,omitempty"`
}

// EnclaveList is a list of Enclaves.
//
// +kubebuilder:object:root=true
type EnclaveList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Enclave `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Enclave{}, &EnclaveList{})
}
