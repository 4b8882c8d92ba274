'use client';

import { Dialog } from './dialog';
import { Button, ErrorBox } from './ui';

/**
 * Asks before a destructive action on `item` (open while it is set): the refusal, if any, shows
 * above Cancel and the danger button that runs `onConfirm`.
 */
export function ConfirmDialog<T>({
  item,
  onClose,
  title,
  description,
  confirmLabel,
  error,
  errorTitle,
  busy,
  onConfirm,
}: {
  item: T | undefined;
  onClose: () => void;
  title: string;
  description: string;
  confirmLabel: string;
  error: unknown;
  errorTitle: string;
  busy: boolean;
  onConfirm: (item: T) => void;
}) {
  return (
    <Dialog
      open={item !== undefined}
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
      title={title}
      description={description}
    >
      <ErrorBox error={error} title={errorTitle} />
      <div className="mt-4 flex justify-end gap-2">
        <Button onClick={onClose}>Cancel</Button>
        <Button
          variant="danger"
          busy={busy}
          onClick={() => {
            if (item !== undefined) onConfirm(item);
          }}
        >
          {confirmLabel}
        </Button>
      </div>
    </Dialog>
  );
}
