/* agent.h - the agent daemon: runs the tasks the scheduler assigns to this
 * machine (sandbox, cgroup, executor), reports their states through a
 * durable journal and re-attaches to them after a restart. */
#ifndef BO_AGENT_AGENT_H
#define BO_AGENT_AGENT_H

/* `borealis agent ...`: argv[0] is "agent". Returns a process exit code
 * (0 ok, 1 runtime failure, 2 bad usage). */
int agent_main(int argc, char **argv);

#endif
