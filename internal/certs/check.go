package certs

import (
	"time"

	"github.com/k8s-single/k8s-single/internal/host"
)

// Problem is one certificate of the PKI that does not match its spec.
type Problem struct {
	Name string
	What string
}

// Check compares every leaf of the PKI with what Specs(p) says it should be
// at now (signed by its CA, subject, SANs with the node's address, usages,
// key, not expired) without changing anything, for `doctor`. A CA that does
// not load makes a problem of every leaf it signs.
func Check(root host.Root, p Params, now time.Time) ([]Problem, error) {
	kr, err := p.keyRequest()
	if err != nil {
		return nil, err
	}
	var problems []Problem
	cas := map[string]*KeyPair{}
	caErr := map[string]error{}
	for _, s := range Specs(p) {
		if s.IsCA {
			cas[s.Name], caErr[s.Name] = loadCA(root, s.Name, now)
			continue
		}
		if err := caErr[s.CA]; err != nil {
			problems = append(problems, Problem{s.Name, err.Error()})
			continue
		}
		kp, err := Load(root, s.Name)
		if err != nil {
			problems = append(problems, Problem{s.Name, err.Error()})
			continue
		}
		if what := mismatch(s, kp, cas[s.CA], kr, now); what != "" {
			problems = append(problems, Problem{s.Name, what})
		}
	}
	return problems, nil
}
