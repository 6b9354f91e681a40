// Package services is the one table of the services monitoring-token
// knows. Each row holds what locate serves for a service (the keys of its
// answer's URLs, whether it hands monitoring tokens for it) and what the
// service's standard client needs (the URL it tests, the variables it
// reads, whether it asks locate itself). The command's defaults, its -h
// and its explanations are made from the table, and so is the locate
// emulator in locate/locatetest.
//
// The table lives here, not in package locate, because its rows are this
// command's choices (which client a probe runs and which of the answer's
// URLs it gets); locate's facts are columns of the same rows, so that no
// second list can drift from it. Package locate itself knows no service.
package services

import "slices"

// DefaultEnvName is the variable that gets the URL when nothing else is
// said: the name of the original m-lab/locate monitoring-token.
const DefaultEnvName = "MONITORING_URL"

// Service is one row of the table.
type Service struct {
	// Name is the service as locate's path names it, experiment/datatype.
	Name string
	// URLKeys are the keys of the "urls" of locate's answer for the
	// service, as locate's static configuration (m-lab/locate
	// static.Configs) names them.
	URLKeys []string
	// URLKey is the one of URLKeys whose URL the standard client gets:
	// -service-url-key-name's default.
	URLKey string
	// EnvNames are the variables that get the service URL.
	EnvNames []string
	// AsksLocate says the standard client fetches the locate request URL
	// itself: locate-URL mode (-service-url=false) is the default.
	AsksLocate bool
	// Nearest says the standard client, given no URL it reads, tests the
	// server nearest to it instead of the machine. In locate-URL mode it
	// gets none, so that mode needs an -env-name naming the variable of a
	// client that asks locate itself.
	Nearest bool
	// Enforced says locate enforces monitoring tokens on the service's
	// path, /v2/platform/monitoring/<Name>; it answers any other service
	// with HTTP 400 "Must provide access_token".
	Enforced bool
	// Why says which client the defaults are for, in -h; "" says nothing.
	Why string
}

// table is in the order -h lists the services.
var table = [...]Service{
	{
		Name:    "ndt/ndt7",
		URLKeys: []string{"ws:///ndt/v7/upload", "ws:///ndt/v7/download", "wss:///ndt/v7/upload", "wss:///ndt/v7/download"},
		URLKey:  "wss:///ndt/v7/download",
		// ndt7-client reads its -service-url from SERVICE_URL; scripts
		// written for the original read MONITORING_URL.
		EnvNames: []string{DefaultEnvName, "SERVICE_URL"},
		Nearest:  true,
		Enforced: true,
		Why:      "ndt7-client reads SERVICE_URL",
	},
	{
		Name:    "wehe/replay",
		URLKeys: []string{"wss://:4443/v0/envelope/access"},
		URLKey:  "wss://:4443/v0/envelope/access",
		// wehe-cmdline -m fetches the locate URL itself, as M-Lab's
		// production line runs it.
		EnvNames:   []string{DefaultEnvName},
		AsksLocate: true,
		Enforced:   true,
		Why:        "wehe-cmdline asks locate itself",
	},
	{
		Name:    "ndt/ndt5",
		URLKeys: []string{"ws://:3001/ndt_protocol", "wss://:3010/ndt_protocol"},
		URLKey:  "wss://:3010/ndt_protocol",
		// ndt5-client without -server asks public locate for the
		// nearest server.
		EnvNames: []string{DefaultEnvName},
		Nearest:  true,
	},
	{
		Name:     "neubot/dash",
		URLKeys:  []string{"https:///negotiate/dash"},
		URLKey:   "https:///negotiate/dash",
		EnvNames: []string{DefaultEnvName},
	},
	{
		Name:     "iperf3/test",
		URLKeys:  []string{"wss:///v0/envelope/access"},
		URLKey:   "wss:///v0/envelope/access",
		EnvNames: []string{DefaultEnvName},
	},
}

// All returns the table's rows, in the order -h lists them.
func All() []Service {
	all := make([]Service, len(table))
	for i := range table {
		all[i] = table[i].clone()
	}
	return all
}

// Lookup returns the row of the service called name. For a service not in
// the table, ok is false and the row has only the name and the default
// variable: no URL key (the answer must then hold exactly one URL), and
// service-URL mode.
func Lookup(name string) (s Service, ok bool) {
	for i := range table {
		if table[i].Name == name {
			return table[i].clone(), true
		}
	}
	return Service{Name: name, EnvNames: []string{DefaultEnvName}}, false
}

// Enforced returns the names of the services locate hands monitoring
// tokens for, in the table's order.
func Enforced() []string {
	var names []string
	for _, s := range table {
		if s.Enforced {
			names = append(names, s.Name)
		}
	}
	return names
}

// clone copies s, so that callers may change its slices.
func (s Service) clone() Service {
	s.URLKeys, s.EnvNames = slices.Clone(s.URLKeys), slices.Clone(s.EnvNames)
	return s
}
