/* commands.c - the command table (tmux cmd.c style): every command file
 * exports one entry, listed here once. */
#include "cli/commands.h"

#include <string.h>

#include "base/util.h"

extern const struct cli_command cmd_up_entry;
extern const struct cli_command cmd_scheduler_entry;
extern const struct cli_command cmd_agent_entry;
extern const struct cli_command cmd_help_entry;
extern const struct cli_command cmd_job_create_entry;
extern const struct cli_command cmd_job_status_entry;
extern const struct cli_command cmd_job_list_entry;
extern const struct cli_command cmd_job_inspect_entry;
extern const struct cli_command cmd_job_diff_entry;
extern const struct cli_command cmd_job_kill_entry;
extern const struct cli_command cmd_job_killall_entry;
extern const struct cli_command cmd_task_list_entry;
extern const struct cli_command cmd_task_logs_entry;
extern const struct cli_command cmd_task_files_entry;
extern const struct cli_command cmd_task_cp_entry;
extern const struct cli_command cmd_task_run_entry;
extern const struct cli_command cmd_task_exec_entry;
extern const struct cli_command cmd_job_logs_entry;
extern const struct cli_command cmd_job_restart_entry;
extern const struct cli_command cmd_job_start_entry;
extern const struct cli_command cmd_job_add_entry;
extern const struct cli_command cmd_update_start_entry;
extern const struct cli_command cmd_update_pause_entry;
extern const struct cli_command cmd_update_resume_entry;
extern const struct cli_command cmd_update_abort_entry;
extern const struct cli_command cmd_update_rollback_entry;
extern const struct cli_command cmd_update_pulse_entry;
extern const struct cli_command cmd_update_wait_entry;
extern const struct cli_command cmd_update_list_entry;
extern const struct cli_command cmd_update_info_entry;
extern const struct cli_command cmd_token_create_entry;
extern const struct cli_command cmd_token_list_entry;
extern const struct cli_command cmd_token_revoke_entry;
extern const struct cli_command cmd_whoami_entry;
extern const struct cli_command cmd_audit_entry;
extern const struct cli_command cmd_image_pull_entry;
extern const struct cli_command cmd_image_import_entry;
extern const struct cli_command cmd_image_ls_entry;
extern const struct cli_command cmd_image_rm_entry;
extern const struct cli_command cmd_image_gc_entry;
extern const struct cli_command cmd_host_list_entry;
extern const struct cli_command cmd_host_status_entry;
extern const struct cli_command cmd_host_deactivate_entry;
extern const struct cli_command cmd_host_drain_entry;
extern const struct cli_command cmd_host_activate_entry;
extern const struct cli_command cmd_agent_revoke_entry;
extern const struct cli_command cmd_scheduler_join_token_entry;

static const struct cli_command *const command_table[] = {
    &cmd_up_entry,          &cmd_scheduler_entry,   &cmd_agent_entry,
    &cmd_help_entry,        &cmd_job_create_entry,  &cmd_job_status_entry,
    &cmd_job_list_entry,    &cmd_job_inspect_entry, &cmd_job_diff_entry,
    &cmd_job_kill_entry,    &cmd_job_killall_entry, &cmd_job_logs_entry,
    &cmd_job_restart_entry, &cmd_job_start_entry, &cmd_job_add_entry,
    &cmd_update_start_entry, &cmd_update_pause_entry, &cmd_update_resume_entry,
    &cmd_update_abort_entry, &cmd_update_rollback_entry, &cmd_update_pulse_entry, &cmd_update_wait_entry,
    &cmd_update_list_entry, &cmd_update_info_entry,
    &cmd_task_list_entry,   &cmd_task_logs_entry,   &cmd_task_files_entry,
    &cmd_task_cp_entry,
    &cmd_task_run_entry,
    &cmd_task_exec_entry,
    &cmd_token_create_entry, &cmd_token_list_entry, &cmd_token_revoke_entry,
    &cmd_whoami_entry,      &cmd_audit_entry,
    &cmd_image_pull_entry,  &cmd_image_import_entry, &cmd_image_ls_entry,
    &cmd_image_rm_entry,    &cmd_image_gc_entry,
    &cmd_host_list_entry,   &cmd_host_status_entry, &cmd_host_deactivate_entry,
    &cmd_host_drain_entry,  &cmd_host_activate_entry,
    &cmd_agent_revoke_entry, &cmd_scheduler_join_token_entry,
};

static const struct cli_group group_table[] = {
    {"job", "create, inspect, compare and kill jobs"},
    {"update", "roll new configs out instance by instance, and back"},
    {"task", "look at tasks across jobs"},
    {"token", "API tokens: who may do what (admin only)"},
    {"image", "container images in this machine's image store"},
    {"host", "look at the agents (machines) and their maintenance"},
};

const struct cli_command *const *cli_commands(size_t *ret_n)
{
    *ret_n = BO_ARRAY_SIZE(command_table);
    return command_table;
}

const struct cli_group *cli_groups(size_t *ret_n)
{
    *ret_n = BO_ARRAY_SIZE(group_table);
    return group_table;
}

const struct cli_command *cli_command_find(const char *group, const char *name)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(command_table); i++) {
        const struct cli_command *c = command_table[i];
        bool same_group = group ? c->group && strcmp(c->group, group) == 0 : !c->group;
        if (same_group && strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

const struct cli_group *cli_group_find(const char *name)
{
    for (size_t i = 0; i < BO_ARRAY_SIZE(group_table); i++)
        if (strcmp(group_table[i].name, name) == 0)
            return &group_table[i];
    return NULL;
}
