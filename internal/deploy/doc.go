// Package deploy holds checks of the deployment files at the repository root
// (docker-compose.yml and Dockerfile). There is no Docker engine where the tests
// run, so the tests load the compose file with the compose-spec loader and read
// the Dockerfile as text, to catch a broken stack before anyone runs it.
package deploy
