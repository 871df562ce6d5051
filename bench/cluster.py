#!/usr/bin/env python3
"""The cluster's figures (not a test): registry writes per node per minute, idle and while processes keep exiting;
circusctl status over 3 nodes (--cluster) against one node; 1 000 registered nodes and the time to list them.

  python3 bench/cluster.py [--seconds 30]

A real 3-server ZooKeeper ensemble (Curator's TestingCluster) and three real circusd, run by the Java program
it/src/test/java/io/jcircus/it/ClusterBench.java; needs a built tree (mvn -B -q install -DskipTests).
"""
import argparse, os, subprocess, sys, tempfile

HOME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    a = ap.parse_args()
    with tempfile.NamedTemporaryFile(prefix="jcircus-bench-cp-", suffix=".txt") as cp:
        subprocess.check_call(["mvn", "-B", "-q", "-o", "-f", os.path.join(HOME, "it", "pom.xml"),
                               "dependency:build-classpath", "-Dmdep.outputFile=" + cp.name,
                               "-Dmdep.includeScope=test"])
        classpath = os.path.join(HOME, "it", "target", "test-classes") + ":" + open(cp.name).read().strip()
    sys.exit(subprocess.call(["java", "-Djcircus.home=" + HOME, "-cp", classpath, "io.jcircus.it.ClusterBench",
                             str(a.seconds)]))


if __name__ == "__main__":
    main()
