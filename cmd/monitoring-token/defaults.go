package main

// defaultEnvName is the variable that gets the URL when nothing else is
// said: the name of the original m-lab/locate monitoring-token.
const defaultEnvName = "MONITORING_URL"

// clientDefaults is what a service's standard client needs from a run when
// the command line says nothing else. -service-url, -env-name, -export and
// -export-all, when given, always win.
type clientDefaults struct {
	// serviceURL: ask locate and export the service URL; false: export
	// the locate request URL, for a client that asks locate itself.
	serviceURL bool
	// envNames get the service URL.
	envNames []string
	// why says which client the defaults are for, in -h.
	why string
	// nearest says the standard client, given no URL it reads, tests the
	// server nearest to it instead: in locate-URL mode it gets none, so
	// that mode needs an -env-name naming the variable of a client that
	// asks locate itself.
	nearest bool
}

// defaultsFor returns the defaults for service.
func defaultsFor(service string) clientDefaults {
	switch service {
	case "ndt/ndt7":
		// ndt7-client reads its -service-url from SERVICE_URL; scripts
		// written for the original read MONITORING_URL.
		return clientDefaults{serviceURL: true, envNames: []string{defaultEnvName, "SERVICE_URL"}, why: "ndt7-client reads SERVICE_URL", nearest: true}
	case "ndt/ndt5":
		// ndt5-client without -server asks public locate for the
		// nearest server.
		return clientDefaults{serviceURL: true, envNames: []string{defaultEnvName}, nearest: true}
	case "wehe/replay":
		// wehe-cmdline -m fetches the locate URL itself, as M-Lab's
		// production line runs it.
		return clientDefaults{serviceURL: false, envNames: []string{defaultEnvName}, why: "wehe-cmdline asks locate itself"}
	}
	return clientDefaults{serviceURL: true, envNames: []string{defaultEnvName}}
}
