import { ButtonLink, EmptyState } from '../components/ui';

export default function NotFound() {
  return (
    <EmptyState title="No such page" action={<ButtonLink href="/">Go to the overview</ButtonLink>}>
      This address is not a page of the dashboard.
    </EmptyState>
  );
}
