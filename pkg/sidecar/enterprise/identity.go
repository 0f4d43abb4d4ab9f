package enterprise

import (
	"net/http"
	"slices"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sidecar/api"
)

// Identity is who a request acts for, as the gateway in front of the
// sidecar established it: SIDECAR.md §4's identity headers, each checked
// by the rules of SPEC §2 identifiers (1 to 256 bytes of UTF-8, not blank,
// no control characters).
type Identity struct {
	Tenant      scalar.Label
	Principal   scalar.Label
	AuthnMethod string       // one of api.Vocabulary().AuthnMethods
	Namespace   scalar.Label // zero when the request names none
}

// IdentityOf reads the identity headers of a request. A header that is
// missing (the namespace excepted), repeated or malformed is
// enterprise.identity_invalid whose field is the header's name; the value
// itself is never repeated in the error.
func IdentityOf(h http.Header) (Identity, error) {
	var id Identity
	var err error
	if id.Tenant, err = label(h, api.HeaderTenantID, true); err != nil {
		return Identity{}, err
	}
	if id.Principal, err = label(h, api.HeaderPrincipalID, true); err != nil {
		return Identity{}, err
	}
	m, err := one(h, api.HeaderAuthnMethod, true)
	if err != nil {
		return Identity{}, err
	}
	if methods := api.Vocabulary().AuthnMethods; !slices.Contains(methods, m) {
		return Identity{}, invalid(api.HeaderAuthnMethod, "is not one of "+strings.Join(methods, ", "))
	}
	id.AuthnMethod = m
	if id.Namespace, err = label(h, api.HeaderNamespaceID, false); err != nil {
		return Identity{}, err
	}
	return id, nil
}

func label(h http.Header, name string, required bool) (scalar.Label, error) {
	v, err := one(h, name, required)
	if err != nil || v == "" {
		return scalar.Label{}, err
	}
	l, err := scalar.ParseLabel(v)
	if err != nil {
		return scalar.Label{}, invalid(name, "must be 1 to 256 bytes of UTF-8, not blank, without control characters")
	}
	return l, nil
}

// one is the one value of header name; "" when it is absent and not
// required.
func one(h http.Header, name string, required bool) (string, error) {
	vs := h.Values(name)
	switch {
	case len(vs) > 1:
		return "", invalid(name, "is given more than once")
	case len(vs) == 1 && vs[0] != "":
		return vs[0], nil
	case len(vs) == 1:
		return "", invalid(name, "is empty")
	case required:
		return "", invalid(name, "is missing: in enterprise mode every request names its tenant, principal and authentication method")
	}
	return "", nil
}

func invalid(name, msg string) error {
	return &errcode.Error{Code: errcode.EnterpriseIdentity, Field: strings.ToLower(name), Msg: "the header " + strings.ToLower(name) + " " + msg}
}

// writerLease checks the writer-lease assertion of a mutating request.
func writerLease(h http.Header) error {
	if vs := h.Values(api.HeaderWriterLease); len(vs) == 1 && vs[0] == api.HeaderTrue {
		return nil
	}
	return &errcode.Error{Code: errcode.EnterpriseWriterLease, Field: strings.ToLower(api.HeaderWriterLease),
		Msg: "this sidecar takes writes only from the holder of the writer lease: send " + api.HeaderWriterLease + ": " + api.HeaderTrue}
}
