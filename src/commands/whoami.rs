//! `grantguard whoami`: which credentials, region and endpoint a run would use; never the secret.

use crate::cli::{AccountArgs, Given, WhoamiArgs, WhoamiFormat};
use crate::output::emit;
use crate::rules::Catalog;
use crate::session::target_of;
use crate::settings::{Flags, Settings};
use crate::{account, Error, Outcome};

/// `whoami`: where the credentials come from, masked; never the secret.
pub(crate) async fn whoami_command(
    account: &AccountArgs,
    args: &WhoamiArgs,
    given: &Given,
) -> Result<Outcome, Error> {
    let flags = Flags {
        account,
        walk: None,
        call: None,
        min_severity: None,
        given,
    };
    let settings = Settings::load(&flags, &Catalog::builtin())?;
    let target = target_of(&settings).await?;
    match args.format {
        WhoamiFormat::Human => {
            let text = account::describe(&target);
            emit(None, |out| out.write_all(text.as_bytes()))?;
        }
        WhoamiFormat::Json => emit(None, |out| {
            serde_json::to_writer_pretty(&mut *out, &account::describe_json(&target))?;
            out.write_all(b"\n")
        })?,
    }
    Ok(Outcome::Clear)
}
