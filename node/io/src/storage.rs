//! redb plumbing shared by the coordinator's and the gateways' stores, so each
//! store only describes its tables and records.

use redb::{ReadOnlyTable, ReadTransaction, TableDefinition};

/// A database failure, with redb's message. Stores wrap it in their own errors.
#[derive(Debug, thiserror::Error)]
#[error("database: {0}")]
pub struct DbError(String);

/// Implements `From<redb::…Error>` for a store's error type, so `?` works on
/// every redb call: `tandem_node_io::redb_errors_into!(StoreError, |e| StoreError::Db(e.into()));`
#[macro_export]
macro_rules! redb_errors_into {
    ($error:ty, |$e:ident| $make:expr) => {
        $crate::redb_errors_into!(@each $error, $e, $make;
            DatabaseError, TransactionError, TableError, StorageError, CommitError);
    };
    (@each $error:ty, $e:ident, $make:expr; $($t:ident),*) => {$(
        impl From<::redb::$t> for $error {
            fn from($e: ::redb::$t) -> Self {
                $make
            }
        }
    )*};
}

redb_errors_into!(DbError, |e| DbError(e.to_string()));

/// Opens a table for reading. A table is created by its first write, so one that
/// does not exist yet reads as absent rather than as an error.
pub fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    tx: &ReadTransaction,
    table: TableDefinition<'_, K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>, DbError> {
    match tx.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
