package main

// The variables the command line reads itself, each a flag's default. None
// is a node setting: a node warns about the LABORLINK_ variables that are
// neither (node.UnknownEnv), and the shell a node starts from often exports
// these for the other subcommands.
const (
	envConfig = "LABORLINK_CONFIG" // laborlink node --config
	envNode   = "LABORLINK_NODE"   // --node of the commands that reach a node
	envCert   = "LABORLINK_CERT"   // --cert
	envKey    = "LABORLINK_KEY"    // --key
	envCA     = "LABORLINK_CA"     // --ca
	envCRLs   = "LABORLINK_CRLS"   // --crl, comma-separated
)

// cliEnv lists them for node.UnknownEnv; TestCLIEnvIsEveryVariableRead
// keeps it to those the flags read.
var cliEnv = []string{envConfig, envNode, envCert, envKey, envCA, envCRLs}
