// cojson 0.20.19's verdict on each transaction of a CoValue, as the core holds it once its
// content is read: shared by generator/gen-meta.mjs (meta.json) and read-pieces.mjs.

/**
 * Every transaction of `core` (core.verifiedTransactions: sessions in the order the node
 * received them, then index), after getCurrentContent() and getValidTransactions() parsed
 * what they parse (private changes and meta are decrypted only for valid transactions).
 */
export function transactionVerdicts(core) {
  core.getCurrentContent();
  core.getValidTransactions();
  return core.verifiedTransactions.map(txVerdict);
}

/**
 * One transaction: its place in the log (txID, without a branch), privacy, validity, effective
 * madeAt (a merged transaction's source madeAt) and the log's currentMadeAt, the sourceTxID of
 * a merged transaction (null: none), its meta as the core holds it (null: none or never
 * decrypted), how many changes it keeps (null: never decrypted) and, for trusting ones, how
 * many the log holds; invalid ones say why.
 */
export function txVerdict(tx) {
  const { sessionID, txIndex } = tx.currentTxID;
  const source = tx.sourceTxID && {
    sessionID: tx.sourceTxID.sessionID,
    txIndex: tx.sourceTxID.txIndex,
    ...(tx.sourceTxID.branch ? { branch: tx.sourceTxID.branch } : {}),
  };
  return {
    txID: { sessionID, txIndex },
    privacy: tx.tx.privacy,
    isValid: tx.isValid,
    madeAt: tx.madeAt,
    currentMadeAt: tx.currentMadeAt,
    sourceTxID: source ?? null,
    meta: tx.meta ?? null,
    changesLength: tx.changes ? tx.changes.length : null,
    changesInLog: tx.tx.privacy === "trusting" ? JSON.parse(tx.tx.changes).length : null,
    ...(tx.isValid ? {} : { invalidBecause: tx.validationErrorMessage ?? null }),
  };
}
