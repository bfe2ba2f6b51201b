//! Shell completion scripts and the man page, both generated from the clap definitions in
//! `cli.rs` so they cannot drift from the real flags. In: a shell, or nothing. Out: text on the
//! writer given. It never touches the network or the user's shell configuration: installing
//! the script is the user's choice (see the README).

use crate::cli::Cli;
use clap::CommandFactory;
use std::io::Write;

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> std::io::Result<()> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    clap_complete::generate(shell, &mut command, name, out);
    Ok(())
}

/// Writes the man page (roff): the top-level page followed by one section per subcommand, so
/// `grantguard man > grantguard.1` documents every flag in one file.
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    let command = Cli::command();
    clap_mangen::Man::new(command.clone()).render(out)?;
    out.write_all(MAN_SECTIONS.as_bytes())?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let man = clap_mangen::Man::new(sub.clone());
        // Each subcommand as its own titled section of the same page.
        writeln!(out, ".SH \"GRANTGUARD {}\"", sub.get_name().to_uppercase())?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
        if sub.has_subcommands() {
            man.render_subcommands_section(out)?;
        }
    }
    Ok(())
}

/// The sections clap cannot derive: the environment, the exit codes, the files and examples.
const MAN_SECTIONS: &str = r#".SH ENVIRONMENT
.TP
\fBALIBABA_CLOUD_ACCESS_KEY_ID\fR, \fBALIBABA_CLOUD_ACCESS_KEY_SECRET\fR, \fBALIBABA_CLOUD_SECURITY_TOKEN\fR
The access key (and STS token) to sign with; the first step of the credential chain. Secrets
are never taken as arguments.
.TP
\fBALIBABA_CLOUD_ROLE_ARN\fR, \fBALIBABA_CLOUD_OIDC_PROVIDER_ARN\fR, \fBALIBABA_CLOUD_OIDC_TOKEN_FILE\fR
The OIDC role step (RRSA): STS AssumeRoleWithOIDC with the token in the file.
.TP
\fBALIBABA_CLOUD_PROFILE\fR, \fBALIBABA_CLOUD_CONFIG_FILE\fR
The aliyun CLI profile, and its config file (default \fI~/.aliyun/config.json\fR); the
profile also names the credentials file's section.
.TP
\fBALIBABA_CLOUD_CREDENTIALS_FILE\fR
The credentials ini file (default \fI~/.alibabacloud/credentials.ini\fR, else
\fI~/.alibabacloud/credentials\fR).
.TP
\fBALIBABA_CLOUD_REGION_ID\fR
The region when \fB--region\fR is not given.
.TP
\fBALIBABA_CLOUD_ECS_METADATA_DISABLED\fR
\fBtrue\fR skips the ECS instance RAM role step of the chain.
.TP
\fBALIBABA_CLOUD_CREDENTIALS_URI\fR
A local credentials service, the last step of the chain.
.TP
\fBGRANTGUARD_ENDPOINT\fR, \fBGRANTGUARD_ENDPOINT_\fR\fIREGION\fR
An endpoint override (\fB--endpoint\fR), for all regions or for one (\fIREGION\fR in
capitals, dashes as underscores). Plain \fBhttp://\fR only to loopback.
.TP
\fBGRANTGUARD_QPS\fR, \fBGRANTGUARD_CONCURRENCY\fR
Defaults for \fB--qps\fR and \fB--concurrency\fR.
.TP
\fBNO_COLOR\fR
Any value turns colour off.
.TP
\fBXDG_STATE_HOME\fR
Where the removal journal lives (\fI$XDG_STATE_HOME/grantguard/journal.jsonl\fR).
.SH "EXIT STATUS"
.TP
\fB0\fR
Every audited grant is safe, or the removal is done.
.TP
\fB1\fR
A grant is blocked or unknown, a finding reaches \fB--min-severity\fR, or a removal was refused.
.TP
\fB2\fR
The tool could not do its job: usage, credentials, configuration, a damaged file, or nothing
could be listed.
.TP
\fB141\fR
Standard output was closed (for example by \fBhead\fR).
.SH FILES
.TP
\fIgrantguard.json\fR
Severity changes, justified suppressions and defaults: \fB\-\-config\fR \fIFILE\fR, else \fI./grantguard.json\fR when it exists.
.TP
\fI~/.local/state/grantguard/journal.jsonl\fR
The removal journal (mode 0600) and its lock \fIjournal.jsonl.lock\fR.
.TP
\fIDIR/REGION.d2.inventory.json\fR
The cache of \fBaudit --cache DIR\fR.
.SH EXAMPLES
.TP
\fBgrantguard demo\fR
Audit the bundled example account on a local emulator.
.TP
\fBgrantguard --region cn-hangzhou audit --name orders-slb-80\fR
Who still depends on one grant (read-only).
.TP
\fBgrantguard --region cn-hangzhou remove --name legacy-unused-443 --dry-run\fR
What a removal would check and call, without changing anything.
.TP
\fBgrantguard --region cn-hangzhou audit --format sarif --output grantguard.sarif\fR
A report for code scanning in CI.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn text(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> String {
        let mut buffer = Vec::new();
        write(&mut buffer).expect("rendering to memory does not fail");
        String::from_utf8(buffer).expect("utf-8")
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        use clap::ValueEnum;
        for shell in clap_complete::Shell::value_variants() {
            let script = text(|out| completions(*shell, out));
            for sub in ["audit", "scan", "policy", "whoami", "completions"] {
                assert!(script.contains(sub), "{shell}: {sub} missing");
            }
        }
    }

    #[test]
    fn the_man_page_documents_subcommands_and_flags() {
        let page = text(man);
        assert!(
            page.starts_with(".ie") || page.contains(".TH grantguard"),
            "{}",
            &page[..200]
        );
        assert!(page.contains("GRANTGUARD AUDIT"));
        for section in [
            ".SH ENVIRONMENT",
            ".SH \"EXIT STATUS\"",
            ".SH FILES",
            ".SH EXAMPLES",
        ] {
            assert!(page.contains(section), "{section} missing");
        }
        assert!(page.contains("GRANTGUARD_ENDPOINT") && page.contains("journal.jsonl"));
        assert!(page.contains("GRANTGUARD POLICY"));
        assert!(page.contains("min\\-severity"));
        assert!(page.contains("with\\-removal"));
    }
}
