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
        assert!(page.contains("GRANTGUARD POLICY"));
        assert!(page.contains("min\\-severity"));
        assert!(page.contains("with\\-removal"));
    }
}
